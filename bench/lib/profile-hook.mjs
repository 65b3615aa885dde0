// Preloaded into the server under test (`node --import ./bench/lib/profile-hook.mjs ...`) by
// `npm run bench -- --profile`. It uses the same V8 sampling profiler as `node --cpu-prof`, but
// the window is chosen by the load generator: the first SIGWINCH starts sampling when the measured
// load starts, the second stops and writes a .cpuprofile to BENCH_PROFILE_OUT, so connection
// setup and JIT warm-up stay out of the picture. The file opens in Chrome DevTools or speedscope.
// SIGWINCH, not SIGUSR2: the gateway shuts down on SIGUSR2 (main.ts), and a process without this
// hook ignores SIGWINCH.
import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_PROFILE_OUT ?? `bench-${process.pid}.cpuprofile`;
const intervalUs = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 250);
const session = new inspector.Session();
session.connect();
let running = false;

process.on('SIGWINCH', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: intervalUs }, () =>
        session.post('Profiler.start'),
      ),
    );
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, res) => {
    if (err) {
      process.stderr.write(`profile-hook: ${err.message}\n`);
      return;
    }
    writeFileSync(out, JSON.stringify(res.profile));
    process.stderr.write(`profile-hook: wrote ${out}\n`);
  });
});
