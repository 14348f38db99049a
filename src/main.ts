// The program's entry: the SIGHUP guard goes in before the rest of the program loads (see startup-hangups.ts);
// app.ts is the composition root. The installed command (pypimirror.cts, npm's `bin`) runs this module from
// the bundle the build makes of it (build/command.ts); `node dist/src/main.js` runs it unbundled, the same.
// No top-level await: the bundle is a CommonJS script, which has none.
import { guardStartupHangups } from './startup-hangups.js';

// The AWS SDK warns on every start under Node 20 that its releases after January 2027 will need Node 22;
// the version package.json pins supports Node 20 (engines), so a user would see it on every command.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
const hangups = guardStartupHangups();
void import('./app.js').then(({ runMain }) => runMain(process.argv.slice(2), hangups));
