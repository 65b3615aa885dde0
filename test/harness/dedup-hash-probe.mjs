// Run by test/e2e/dedup-hash.e2e-spec.ts with plain node against the build (dist/): times the memory
// dedup table filling with ids crafted against FNV-1a and with random ids, best of three each, and
// prints {craftedMs, randomMs, fnvLowBits} as JSON. Outside Jest, whose module sandbox runs such
// loops unoptimized (100 times slower), which would hide the table's own cost.
import { pathToFileURL } from 'node:url';

const dist = process.argv[2];
const { idempotencyKey } = await import(pathToFileURL(`${dist}/cluster/idempotency.js`).href);
const { MemoryDedup } = await import(pathToFileURL(`${dist}/cluster/memory/memory-dedup.js`).href);

const N = 200_000;
const LENGTH = 12;

// Every UTF-16 code unit has the same low 14 bits; only its top 2 bits vary. Under FNV-1a, whatever
// its basis, the low 14 bits of the hash then depend on nothing that varies: one home slot per table.
function crafted() {
  const ids = [];
  const units = new Array(LENGTH);
  for (let n = 0; n < N; n++) {
    let x = n;
    for (let j = 0; j < LENGTH; j++) {
      units[j] = 0x061 | ((x & 3) << 14);
      x >>>= 2;
    }
    ids.push(String.fromCharCode(...units));
  }
  return ids;
}

function random() {
  const ids = [];
  for (let n = 0; n < N; n++) {
    let id = '';
    while (id.length < LENGTH) id += Math.random().toString(36).slice(2);
    ids.push(id.slice(0, LENGTH));
  }
  return ids;
}

function fnv1a(key, seed) {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// What a publication with an id costs the table: a lookup (a miss), then the insert.
function fill(ids) {
  const dedup = new MemoryDedup(() => 0);
  const started = performance.now();
  for (const id of ids) {
    const key = idempotencyKey('mallory', 'message', id);
    if (dedup.get(key) === undefined) dedup.set(key, { room: 'lobby', seq: 1 }, 60_000);
  }
  const elapsed = performance.now() - started;
  if (dedup.size !== ids.length) throw new Error(`${dedup.size} ids held, ${ids.length} set`);
  return elapsed;
}

const c = crafted();
const r = random();
const seed = (Math.random() * 0x100000000) >>> 0;
const fnvLowBits = new Set(c.map((id) => fnv1a(idempotencyKey('mallory', 'message', id), seed) & 0x3fff))
  .size;
let craftedMs = Infinity;
let randomMs = Infinity;
for (let run = 0; run < 3; run++) {
  randomMs = Math.min(randomMs, fill(r));
  craftedMs = Math.min(craftedMs, fill(c));
}
console.log(JSON.stringify({ craftedMs, randomMs, fnvLowBits }));
