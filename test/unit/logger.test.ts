// The winston-backed logger: one line per entry, the same text on the console and in the file (with a
// timestamp there), secrets hidden, debug lines only once the level allows them (also after a reload), and a
// line below the level dropped before anything is made of it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { createLogger, type LoggerHandle } from '../../src/logger.js';
import { makeTempDir } from '../helpers/tree.js';

/** A logger at info writing to a log file in a temp dir, and what it printed on the console so far. */
async function startLogger(
  t: TestContext,
): Promise<{ logFile: string; handle: LoggerHandle; consoleText: () => string }> {
  const logFile = join(await makeTempDir(t), 'mirror.log');
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8').on('data', (d: string) => (text += d));
  const handle = createLogger({ verbose: false, logFile, env: {}, isTty: false, stream });
  return { logFile, handle, consoleText: () => text };
}

test('console and file get the same line; debug lines appear only at the debug level', async (t) => {
  const { logFile, handle, consoleText } = await startLogger(t);
  const log = handle.logger.child({ project: 'demo' });
  log.info('fetched', {
    file: 'demo-1.0.tar.gz',
    url: 'https://user:secret@files.example/x',
    note: 'two words',
  });
  // A line below the level is never made into an entry: its fields are not even serialised.
  let serialised = 0;
  log.debug('not shown at info', { costly: { toJSON: () => (serialised += 1) } });
  handle.configure({ verbose: true, logFile });
  log.debug('shown at debug', { n: 3 });
  await handle.close();

  const expected = [
    'info: fetched project=demo file=demo-1.0.tar.gz url=https://***@files.example/x note="two words"',
    'debug: shown at debug project=demo n=3',
  ];
  assert.equal(serialised, 0, 'a dropped debug line was serialised');
  assert.deepEqual(consoleText().trimEnd().split('\n'), expected);
  const fileLines = (await readFile(logFile, 'utf8')).trimEnd().split('\n');
  assert.equal(fileLines.length, 2);
  fileLines.forEach((line, i) => {
    assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    assert.equal(line.replace(/^\S+ /, ''), expected[i]);
  });
});

test('the file gets only the lines logged while a file is set; the console gets them all', async (t) => {
  const { logFile, handle, consoleText } = await startLogger(t);
  handle.logger.info('one');
  handle.configure({ verbose: false, logFile: null });
  handle.logger.info('two');
  handle.configure({ verbose: false, logFile });
  handle.logger.info('three');
  await handle.close();

  assert.deepEqual(consoleText().trimEnd().split('\n'), ['info: one', 'info: two', 'info: three']);
  const fileLines = (await readFile(logFile, 'utf8')).trimEnd().split('\n');
  assert.deepEqual(
    fileLines.map((line) => line.replace(/^\S+ /, '')),
    ['info: one', 'info: three'],
  );
});

test('lines keep their order in the file across reopens and a file set again at once', async (t) => {
  // Each reopen opens a new stream: before it waited for the previous one to close, their opens and writes
  // raced on the thread pool; 35 of 40 loggers run through 20 rounds of this loop put a line before an
  // earlier one, and this test failed against that code.
  const { logFile, handle } = await startLogger(t);
  const expected: string[] = [];
  for (let i = 0; i < 40; i++) {
    handle.logger.info(`before ${i}`);
    handle.configure({ verbose: false, logFile: null });
    handle.configure({ verbose: false, logFile });
    handle.logger.info(`after ${i}`);
    if (i % 3 === 0) handle.reopen();
    expected.push(`info: before ${i}`, `info: after ${i}`);
  }
  await handle.close();
  const fileLines = (await readFile(logFile, 'utf8')).trimEnd().split('\n');
  assert.deepEqual(
    fileLines.map((line) => line.replace(/^\S+ /, '')),
    expected,
  );
});
