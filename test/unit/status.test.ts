import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  nextStatus,
  renderMetrics,
  summarizeRun,
  type MirrorStatus,
  type StatusMeta,
} from '../../src/status.js';
import type { SyncReport } from '../../src/sync/report.js';

const META: StatusMeta = {
  command: 'run',
  pid: 42,
  host: 'mirror-1',
  version: '1.2.3',
  config: '/etc/pypimirror.cfg',
  mirror: '/srv/pypimirror',
};

function report(over: Partial<SyncReport> = {}): SyncReport {
  return {
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:02.500Z',
    durationMs: 2500,
    projectsChecked: 10,
    projectsChanged: 3,
    projectsRemoved: 1,
    filesFetched: 7,
    bytesFetched: 7000,
    filesRemoved: 2,
    failures: [],
    deferred: [],
    deletionsHeld: null,
    listingFailed: false,
    aborted: false,
    requests: 12,
    ...over,
  };
}

const START = new Date('2026-01-01T00:00:00.000Z');
const END = new Date('2026-01-01T00:00:02.500Z');

describe('summarizeRun', () => {
  it('tells an ok run from its report', () => {
    const run = summarizeRun({
      report: report(),
      startedAt: START,
      finishedAt: END,
      error: null,
      isAborted: false,
    });
    assert.equal(run.result, 'ok');
    assert.equal(run.filesFetched, 7);
    assert.equal(run.bytesFetched, 7000);
    assert.equal(run.durationMs, 2500);
    assert.equal(run.error, null);
  });

  it('says failed when some projects failed, and lists them', () => {
    const run = summarizeRun({
      report: report({ failures: [{ project: 'numpy', reason: 'HTTP 503' }] }),
      startedAt: START,
      finishedAt: END,
      error: null,
      isAborted: false,
    });
    assert.equal(run.result, 'failed');
    assert.equal(run.projectsFailed, 1);
    assert.deepEqual(run.failedProjects, ['numpy']);
  });

  it('says failed with a reason when the listing failed', () => {
    const run = summarizeRun({
      report: report({ listingFailed: true }),
      startedAt: START,
      finishedAt: END,
      error: null,
      isAborted: false,
    });
    assert.equal(run.result, 'failed');
    assert.match(run.error ?? '', /listing/);
  });

  it('says aborted for a stopped run, with or without a report', () => {
    const withReport = summarizeRun({
      report: report({ aborted: true }),
      startedAt: START,
      finishedAt: END,
      error: null,
      isAborted: true,
    });
    assert.equal(withReport.result, 'aborted');
    const without = summarizeRun({
      report: null,
      startedAt: START,
      finishedAt: END,
      error: new Error('SIGTERM received'),
      isAborted: true,
    });
    assert.equal(without.result, 'aborted');
    assert.equal(without.error, 'SIGTERM received');
    assert.equal(without.durationMs, 2500);
  });

  it('says error when the run crashed', () => {
    const run = summarizeRun({
      report: null,
      startedAt: START,
      finishedAt: END,
      error: new Error('EACCES: permission denied'),
      isAborted: false,
    });
    assert.equal(run.result, 'error');
    assert.equal(run.error, 'EACCES: permission denied');
    assert.equal(run.filesFetched, 0);
  });
});

describe('nextStatus', () => {
  const ok = summarizeRun({
    report: report(),
    startedAt: START,
    finishedAt: END,
    error: null,
    isAborted: false,
  });
  const failed = summarizeRun({
    report: report({ failures: [{ project: 'x', reason: 'y' }], finishedAt: '2026-01-01T01:00:00.000Z' }),
    startedAt: START,
    finishedAt: END,
    error: null,
    isAborted: false,
  });

  it('starts the totals and records the next run', () => {
    const status = nextStatus(null, ok, META, new Date('2026-01-01T00:10:02.500Z'));
    assert.equal(status.formatVersion, 1);
    assert.equal(status.lastSuccessAt, '2026-01-01T00:00:02.500Z');
    assert.equal(status.nextRunAt, '2026-01-01T00:10:02.500Z');
    assert.deepEqual(status.totals, {
      runs: 1,
      failedRuns: 0,
      filesFetched: 7,
      bytesFetched: 7000,
      filesRemoved: 2,
    });
    assert.equal(status.host, 'mirror-1');
  });

  it('keeps the last success through a failed run and adds up the totals', () => {
    const first = nextStatus(null, ok, META, null);
    const second = nextStatus(first, failed, { ...META, command: 'sync' }, null);
    assert.equal(second.lastRun.result, 'failed');
    assert.equal(second.lastSuccessAt, '2026-01-01T00:00:02.500Z');
    assert.equal(second.nextRunAt, null);
    assert.equal(second.command, 'sync');
    assert.deepEqual(second.totals, {
      runs: 2,
      failedRuns: 1,
      filesFetched: 14,
      bytesFetched: 14000,
      filesRemoved: 4,
    });
  });
});

describe('renderMetrics', () => {
  const ok = summarizeRun({
    report: report(),
    startedAt: START,
    finishedAt: END,
    error: null,
    isAborted: false,
  });

  function sample(text: string, name: string): string | undefined {
    return text.split('\n').find((l) => l.startsWith(`${name}{`));
  }

  it('writes one HELP, TYPE and sample per metric, labelled with the mirror', () => {
    const text = renderMetrics(nextStatus(null, ok, META, new Date('2026-01-01T00:10:00.000Z')));
    assert.ok(text.endsWith('\n'));
    assert.equal(
      sample(text, 'pypimirror_last_success_timestamp_seconds'),
      'pypimirror_last_success_timestamp_seconds{mirror="/srv/pypimirror"} 1767225602.5',
    );
    assert.equal(
      sample(text, 'pypimirror_last_run_duration_seconds'),
      'pypimirror_last_run_duration_seconds{mirror="/srv/pypimirror"} 2.5',
    );
    assert.equal(
      sample(text, 'pypimirror_last_run_success'),
      'pypimirror_last_run_success{mirror="/srv/pypimirror"} 1',
    );
    assert.equal(
      sample(text, 'pypimirror_last_run_files_fetched'),
      'pypimirror_last_run_files_fetched{mirror="/srv/pypimirror"} 7',
    );
    assert.equal(
      sample(text, 'pypimirror_bytes_fetched_total'),
      'pypimirror_bytes_fetched_total{mirror="/srv/pypimirror"} 7000',
    );
    assert.equal(
      sample(text, 'pypimirror_next_run_timestamp_seconds'),
      'pypimirror_next_run_timestamp_seconds{mirror="/srv/pypimirror"} 1767226200',
    );
    assert.match(text, /^# TYPE pypimirror_runs_total counter$/m);
    assert.match(text, /^# TYPE pypimirror_last_run_success gauge$/m);
    // Every sample line is `name{labels} number`.
    for (const line of text
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('#'))) {
      assert.match(line, /^pypimirror_[a-z_]+\{mirror="[^"]*"\} -?[0-9.e+]+$/);
    }
  });

  it('leaves out what is not known, and escapes the label', () => {
    const failedOnly: MirrorStatus = nextStatus(
      null,
      summarizeRun({
        report: null,
        startedAt: START,
        finishedAt: END,
        error: new Error('x'),
        isAborted: false,
      }),
      { ...META, mirror: 'C:\\mirror "a"\nb' },
      null,
    );
    const text = renderMetrics(failedOnly);
    assert.doesNotMatch(text, /pypimirror_last_success_timestamp_seconds\{/);
    assert.doesNotMatch(text, /pypimirror_next_run_timestamp_seconds\{/);
    assert.match(text, /pypimirror_last_run_success\{mirror="C:\\\\mirror \\"a\\"\\nb"\} 0/);
  });
});
