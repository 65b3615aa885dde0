#!/usr/bin/env node
// Fails when modules under src/ import each other in a cycle through static imports (type-only ones
// included: a type cycle is where a runtime one starts). A cycle that needs a dynamic import() is
// reported as a warning: it cannot break load order, but it still ties two modules together.
// Run by `npm run lint`. Relative imports only: packages in node_modules cannot import our files.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STATIC = /^\s*(?:import|export)\s[^'";]*?\sfrom\s+'(\.{1,2}\/[^']+)'|^\s*import\s+'(\.{1,2}\/[^']+)'/gm;
const DYNAMIC = /\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/** Every .ts file under `dir`. */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The cycles of `graph` (file -> files it imports), each as a path that ends where it starts. */
function cyclesOf(graph) {
  const done = new Set();
  const path = [];
  const onPath = new Set();
  const found = [];
  const visit = (file) => {
    done.add(file);
    onPath.add(file);
    path.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (onPath.has(dep)) found.push([...path.slice(path.indexOf(dep)), dep]);
      else if (!done.has(dep) && graph.has(dep)) visit(dep);
    }
    path.pop();
    onPath.delete(file);
  };
  for (const file of graph.keys()) if (!done.has(file)) visit(file);
  return [...new Set(found.map((cycle) => cycle.map((f) => relative(root, f)).join(' -> ')))];
}

const target = (file, spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
const staticGraph = new Map();
const fullGraph = new Map();
for (const file of sources(join(root, 'src'))) {
  const text = readFileSync(file, 'utf8');
  const deps = [...text.matchAll(STATIC)].map((m) => target(file, m[1] ?? m[2]));
  staticGraph.set(file, deps);
  fullGraph.set(file, [...deps, ...[...text.matchAll(DYNAMIC)].map((m) => target(file, m[1]))]);
}

const failures = cyclesOf(staticGraph);
for (const cycle of cyclesOf(fullGraph)) {
  if (!failures.includes(cycle)) console.warn(`warning: import cycle through a dynamic import(): ${cycle}`);
}
for (const cycle of failures) console.error(`import cycle: ${cycle}`);
if (failures.length > 0) process.exit(1);
console.log(`check-import-cycles: ${staticGraph.size} files under src/, no static import cycle`);
