#!/usr/bin/env node
// Entry point. The SIGHUP guard goes in before the rest of the program loads (see startup-hangups.ts);
// app.ts is the composition root.
import { guardStartupHangups } from './startup-hangups.js';

const hangups = guardStartupHangups();
const { runMain } = await import('./app.js');
runMain(process.argv.slice(2), hangups);
