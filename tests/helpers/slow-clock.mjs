/**
 * Test-only preload (`NODE_OPTIONS=--import …/slow-clock.mjs`, rate in SLOW_CLOCK_RATE): this
 * process's monotonic clock, performance.now(), runs at the given rate of the real one, as a leader
 * whose clock runs slow sees it. libfaketime cannot do this for Node here: under LD_PRELOAD it delays
 * libuv's timers but leaves performance.now() real (measured), and performance.now() is what the
 * leader's self-fencing deadline is kept by (src/engines/etcd/election.ts). Timers are left real.
 */
import process from 'node:process';

const clock = globalThis.performance;
const rate = Number(process.env.SLOW_CLOCK_RATE ?? '1');
if (!(rate > 0)) throw new Error(`SLOW_CLOCK_RATE must be a positive number, got ${process.env.SLOW_CLOCK_RATE}`);
const real = clock.now.bind(clock);
const start = real();
clock.now = () => start + (real() - start) * rate;
