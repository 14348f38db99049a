// The progress line of `sync` on a terminal (src/progress.ts) and the log lines around it: a log line never
// starts on the progress line's row, the progress line is drawn again under it, and per-file lines are
// debug lines there (src/logger.ts with isPerFileDebug). Fake terminal streams record every write in order.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { createProgressLine, createStatusLine, isProgressShown } from '../../src/progress.js';

/** Two fake terminal streams (stderr for the line, stdout for the logs) writing into one screen, in order. */
function fakeTerminal(): {
  writes: string[];
  stderr: { write(s: string): boolean };
  stdout: { write(s: string): boolean };
} {
  const writes: string[] = [];
  return {
    writes,
    stderr: { write: (s: string) => writes.push(`err:${s}`) > 0 },
    stdout: { write: (s: string) => writes.push(`out:${s}`) > 0 },
  };
}

const ERASE = '\r\x1b[K';

test('progress is shown on a terminal only, never under journald', () => {
  assert.equal(isProgressShown({}, { isTTY: true }), true);
  assert.equal(isProgressShown({}, { isTTY: false }), false);
  assert.equal(isProgressShown({}, {}), false);
  assert.equal(isProgressShown({ JOURNAL_STREAM: '8:1234' }, { isTTY: true }), false);
});

test('the progress line is redrawn in place, at most once per interval, and cleared', () => {
  const term = fakeTerminal();
  let clock = 0;
  const line = createProgressLine(createStatusLine(term.stderr, term.stdout), 200, () => clock);
  const p = { projectsDone: 1, projectsToCheck: 3, filesFetched: 2, bytesFetched: 2048 };
  line.update(p);
  clock = 100;
  line.update({ ...p, projectsDone: 2 });
  clock = 250;
  line.update({ ...p, projectsDone: 3 });
  line.clear();
  line.clear();
  assert.deepEqual(term.writes, [
    `err:${ERASE}1/3 projects, 2 files (2.0 KiB) fetched`,
    `err:${ERASE}3/3 projects, 2 files (2.0 KiB) fetched`,
    `err:${ERASE}`,
  ]);
});

test('a log line is written above the progress line, which is drawn again under it', () => {
  const term = fakeTerminal();
  const status = createStatusLine(term.stderr, term.stdout);
  status.logStream.write('info: before\n');
  status.show('1/25 projects');
  status.logStream.write('info: sync started\n');
  status.clear();
  status.logStream.write('info: sync finished\n');
  assert.deepEqual(term.writes, [
    'out:info: before\n',
    `err:${ERASE}1/25 projects`,
    `err:${ERASE}`,
    'out:info: sync started\n',
    `err:${ERASE}1/25 projects`,
    `err:${ERASE}`,
    'out:info: sync finished\n',
  ]);
});

test('under the progress line, per-file lines are debug: hidden, shown with -v; the log file keeps them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pypimirror-progress-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const screens: string[] = [];
  for (const verbose of [false, true]) {
    const term = fakeTerminal();
    const status = createStatusLine(term.stderr, term.stdout);
    const logFile = join(dir, `${verbose}.log`);
    const logging = createLogger({
      verbose,
      logFile,
      env: {},
      isTty: false,
      stream: status.logStream,
      isPerFileDebug: true,
    });
    status.show('0/2 projects');
    logging.logger.info('sync started', { toCheck: 2 });
    logging.logger.info('file fetched', { project: 'demo', file: 'demo-1.0.tar.gz', bytes: 10 });
    logging.logger.warn('file skipped: its name cannot be stored', { project: 'demo', file: 'x y.whl' });
    logging.logger.info('file removed', { project: 'demo', file: 'demo-0.9.tar.gz' });
    await logging.close();
    screens.push(term.writes.map((w) => w.slice('out:'.length)).join(''));
    const fileText = await readFile(logFile, 'utf8');
    assert.match(fileText, /info: file fetched project=demo file=demo-1\.0\.tar\.gz bytes=10\n/);
    assert.match(fileText, /info: file removed project=demo file=demo-0\.9\.tar\.gz\n/);
  }
  const redraw = `${ERASE}0/2 projects`;
  assert.equal(
    screens[0],
    `${redraw}${ERASE}info: sync started toCheck=2\n${redraw}` +
      `${ERASE}warn: file skipped: its name cannot be stored project=demo file="x y.whl"\n${redraw}`,
  );
  assert.equal(
    screens[1],
    `${redraw}${ERASE}info: sync started toCheck=2\n${redraw}` +
      `${ERASE}debug: file fetched project=demo file=demo-1.0.tar.gz bytes=10\n${redraw}` +
      `${ERASE}warn: file skipped: its name cannot be stored project=demo file="x y.whl"\n${redraw}` +
      `${ERASE}debug: file removed project=demo file=demo-0.9.tar.gz\n${redraw}`,
  );
});
