#!/usr/bin/env node
// Fails (exit 1) when the relative imports of a TypeScript tree form a cycle, and prints each one.
// Usage: node scripts/check-cycles.mjs [dir]   (default: src)
//
// A cycle works only by load order: whichever file loads first sees the other's exports still
// undefined. `import type` edges count too: they vanish at runtime, but a type cycle is the same
// tangle of homes, and it becomes a runtime one the day somebody imports a value along it.
// Imports are read with the TypeScript parser (so comments and strings never count): `import`,
// `import type`, `export ... from`, `import x = require()`, `typeof import()` and dynamic
// `import()`. A dynamic import defers loading but still ties the two homes together (the lazy
// module cannot name the module that loads it without a cycle), so it counts, marked as such.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/** Every .ts file under `dir` (not .d.ts), as absolute paths. */
function listFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * The relative module specifiers of one file, each with its kind: 'value', 'type' (erased at
 * runtime) or 'dynamic' (`import()`, loaded late).
 */
export function importsOf(file, text = readFileSync(file, 'utf8')) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found = [];
  const add = (spec, kind) => {
    if (spec && ts.isStringLiteralLike(spec) && spec.text.startsWith('.'))
      found.push({ spec: spec.text, kind });
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      // `import type {a}` and `import {type a, type b}` are both erased.
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly ? 'type' : 'value');
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly ? 'type' : 'value');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly ? 'type' : 'value');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, 'type');
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], 'dynamic');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Resolves `./x.js` (NodeNext style), `./x` or `./dir` from `from` to a .ts file, or null. */
function resolveImport(from, spec) {
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.(m|c)?js$/, '.$1ts'), base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c) && statSync(c).isFile()) ?? null;
}

const STRENGTH = { type: 0, dynamic: 1, value: 2 };
const strongest = (a, b) => (a === undefined || STRENGTH[b] > STRENGTH[a] ? b : a);

/** The import graph: file -> Map(target file -> kind), relative imports only. */
export function importGraph(dir) {
  const graph = new Map();
  for (const file of listFiles(dir)) {
    const edges = new Map();
    for (const { spec, kind } of importsOf(file)) {
      const target = resolveImport(file, spec);
      // A file imported several ways is marked by the strongest: value, then dynamic, then type.
      if (target !== null) edges.set(target, strongest(edges.get(target), kind));
    }
    graph.set(file, edges);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file that imports itself (Tarjan). */
function tangles(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** The shortest cycle through `start` inside `members` (breadth-first), as a list of files. */
function shortestCycle(graph, members, start) {
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of [...(graph.get(v)?.keys() ?? [])].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [];
        for (let u = v; u !== null; u = previous.get(u)) path.unshift(u);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return null;
}

/**
 * The import cycles under `dir`: for every file caught in one, the shortest cycle through it (the
 * same cycle found from two of its files is listed once). Each cycle is a list of steps
 * `{from, to, kind}` with paths relative to `dir`.
 */
export function findCycles(dir) {
  const root = resolve(dir);
  const graph = importGraph(root);
  const cycles = [];
  const seen = new Set();
  for (const scc of tangles(graph)) {
    const members = new Set(scc);
    for (const start of [...scc].sort()) {
      const path = shortestCycle(graph, members, start);
      if (path === null) continue;
      // One cycle, whatever file it is found from: rotated to start at its smallest file.
      const ring = path.slice(0, -1);
      const at = ring.indexOf([...ring].sort()[0]);
      const rotated = [...ring.slice(at), ...ring.slice(0, at)];
      const key = rotated.join('\n');
      if (seen.has(key)) continue;
      seen.add(key);
      cycles.push(
        rotated.map((from, i) => {
          const to = rotated[(i + 1) % rotated.length];
          return { from: relative(root, from), to: relative(root, to), kind: graph.get(from).get(to) };
        }),
      );
    }
  }
  return cycles;
}

/** `a.ts -> b.ts -(type)-> c.ts -(dynamic)-> a.ts` */
export function formatCycle(cycle) {
  return (
    cycle.map((s) => `${s.from} ${s.kind === 'value' ? '->' : `-(${s.kind})->`} `).join('') + cycle[0].from
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2] ?? 'src';
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`check-cycles: ${dir} is not a directory`);
    process.exit(2);
  }
  const cycles = findCycles(dir);
  if (cycles.length === 0) {
    console.log(`check-cycles: no import cycle in ${dir}`);
  } else {
    console.error(`check-cycles: ${cycles.length} import cycle(s) in ${dir}:`);
    for (const c of cycles) console.error(`  ${formatCycle(c)}`);
    process.exit(1);
  }
}
