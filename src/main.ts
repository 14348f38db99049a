#!/usr/bin/env -S node --single-threaded-gc
// Entry point. The SIGHUP guard goes in before the rest of the program loads (see startup-hangups.ts);
// app.ts is the composition root.
//
// --single-threaded-gc: V8 collects garbage on the main thread only. A download allocates a buffer per
// socket read, and with V8's default concurrent marking a full collection started every ~35 MiB received,
// its helper threads taking 0.4-0.5 s of CPU per GiB from the threads that receive, hash and write. On 2
// cores that made a 1 GiB download take 1.45-1.84 s instead of 1.32-1.46 s (README "Benchmark"). The
// pypimirror command (npm's link to this file, systemd's ExecStart) runs with it; `node main.js` runs
// without, and works the same.
import { guardStartupHangups } from './startup-hangups.js';

const hangups = guardStartupHangups();
const { runMain } = await import('./app.js');
runMain(process.argv.slice(2), hangups);
