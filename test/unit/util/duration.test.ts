import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../../src/util/duration.js';

describe('parseDuration', () => {
  it('reads each unit and combinations, largest unit first', () => {
    const cases: [string, number][] = [
      ['30s', 30_000],
      ['10m', 600_000],
      ['1h', 3_600_000],
      ['1h30m', 5_400_000],
      ['500ms', 500],
      ['2d', 172_800_000],
      ['1d2h3m4s5ms', 93_784_005],
      ['1m500ms', 60_500],
      ['0s', 0],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('reads a plain integer as seconds', () => {
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('0'), 0);
  });

  it('ignores surrounding whitespace and the case of units', () => {
    assert.equal(parseDuration(' 10M '), 600_000);
    assert.equal(parseDuration('1H30M'), 5_400_000);
    assert.equal(parseDuration('5MS'), 5);
  });

  it('rejects anything else', () => {
    for (const text of [
      '',
      ' ',
      'ten minutes',
      '5 minutes',
      '1.5h',
      '-1s',
      '+5s',
      '30m1h',
      '1h1h',
      '1h 30m',
      's',
      '10x',
      '1w',
    ]) {
      assert.equal(parseDuration(text), null, JSON.stringify(text));
    }
  });

  it('rejects values beyond Number.MAX_SAFE_INTEGER milliseconds', () => {
    assert.equal(parseDuration('99999999999999999d'), null);
    assert.equal(parseDuration('9999999999999999'), null);
  });
});

describe('formatDuration', () => {
  it('writes the largest units first and omits zero parts', () => {
    assert.equal(formatDuration(600_000), '10m');
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(30_000), '30s');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(1_500), '1s500ms');
    assert.equal(formatDuration(172_800_000), '2d');
    assert.equal(formatDuration(0), '0s');
  });

  it('rounds to whole milliseconds and signs negative values', () => {
    assert.equal(formatDuration(1.6), '2ms');
    assert.equal(formatDuration(-60_000), '-1m');
  });

  it('round-trips with parseDuration', () => {
    for (const ms of [0, 1, 50, 999, 1_000, 61_001, 3_600_000, 90_061_001, 2_073_600_000]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });
});
