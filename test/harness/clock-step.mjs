// Preloaded into a gateway child process (`node --import`, through NODE_OPTIONS) to step its wall
// clock the way NTP or a resumed VM does: on SIGWINCH, Date.now() jumps by CLOCK_STEP_MS (negative:
// back), and the line "clock stepped by <ms> ms" on stderr says it happened. performance.now() and
// process.hrtime() are left alone: they are the monotonic clocks.
const step = Number(process.env.CLOCK_STEP_MS ?? 0);
const realNow = Date.now.bind(Date);
let offset = 0;
Date.now = () => realNow() + offset;
process.on('SIGWINCH', () => {
  offset += step;
  process.stderr.write(`clock stepped by ${step} ms\n`);
});
