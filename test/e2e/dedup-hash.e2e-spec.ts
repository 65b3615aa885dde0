import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT, requireBuild } from '../harness/index.js';

const DIST = join(PROJECT_ROOT, 'dist');
const PROBE = join(PROJECT_ROOT, 'test', 'harness', 'dedup-hash-probe.mjs');

/**
 * The memory dedup table's hash is keyed per process: ids crafted so that FNV-1a (the hash it had,
 * from a random basis) gives them all the same low bits, and so one probe cluster per table, cost
 * about what random ids cost (FNV-1a: 200k crafted ids took 8 to 11 times as long). Timed with plain
 * node against the build (see dedup-hash-probe.mjs), as a ratio, best of three.
 */
describe('memory dedup hash', () => {
  it('ids crafted against FNV-1a cost about what random ids cost', async () => {
    requireBuild([join(DIST, 'cluster', 'memory', 'memory-dedup.js')]);
    const { stdout } = await promisify(execFile)(process.execPath, [PROBE, DIST], { timeout: 60_000 });
    const { craftedMs, randomMs, fnvLowBits } = JSON.parse(stdout) as Record<string, number>;
    // The ids are adversarial for FNV-1a: the low 14 bits of all their hashes are one value.
    expect(fnvLowBits).toBe(1);
    expect(craftedMs / randomMs).toBeLessThan(2.5);
  }, 90_000);
});
