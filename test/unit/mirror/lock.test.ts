import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatHeld,
  formatSince,
  isProcessAlive,
  judgeLock,
  ownerPath,
  parseStartTime,
  type LockHolder,
} from '../../../src/mirror/lock.js';

describe('lock messages', () => {
  it('says who holds the lock and since when', () => {
    assert.equal(
      formatHeld(
        '/srv/mirror/.pypimirror.lock',
        { pid: 1234, host: 'build-3', since: '2026-11-21T09:14:03Z' },
        null,
      ),
      'another pypimirror run holds the lock /srv/mirror/.pypimirror.lock: pid 1234 on host build-3 since 2026-11-21T09:14:03Z',
    );
  });

  it('says when the holder is unknown, and how fresh the lock is', () => {
    assert.equal(
      formatHeld('/m/.lock', null, 3400),
      'another pypimirror run holds the lock /m/.lock: holder unknown (last refreshed 3 s ago)',
    );
  });

  it('formats times in whole UTC seconds', () => {
    assert.equal(formatSince(new Date('2026-11-21T09:14:03.987Z')), '2026-11-21T09:14:03Z');
  });

  it('keeps the holder beside the lock', () => {
    assert.equal(ownerPath('/srv/mirror/.pypimirror.lock'), '/srv/mirror/.pypimirror.lock.owner');
  });
});

describe('isProcessAlive', () => {
  it('sees this process', () => {
    assert.equal(isProcessAlive(process.pid), true);
  });

  it('does not see a pid beyond the largest possible one', () => {
    // Linux pid_max is at most 2^22.
    assert.equal(isProcessAlive(2 ** 22 + 12345), false);
  });
});

describe('parseStartTime', () => {
  it('reads field 22 of /proc/<pid>/stat, after a command name holding spaces and parentheses', () => {
    const rest = 'S 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 397079 12345 678';
    assert.equal(parseStartTime(`1234 (node) ${rest}`), 397079);
    assert.equal(parseStartTime(`1234 (a) b (c)) ${rest}`), 397079);
  });

  it('says null when the line is cut short or not numeric', () => {
    assert.equal(parseStartTime('1234 (node) S 1 1'), null);
    assert.equal(parseStartTime(''), null);
  });
});

describe('judgeLock', () => {
  const here = 'build-1';
  const holder = (host: string): LockHolder => ({ pid: 42, host, since: '2026-01-01T00:00:00Z' });
  const judge = (h: LockHolder | null, isRunning: boolean, refreshedAgoMs: number) =>
    judgeLock({ holder: h, host: here, isRunning, refreshedAgoMs, staleMs: 60_000 });

  it('never takes the lock of a running holder on this host, however old its refresh', () => {
    assert.equal(judge(holder(here), true, 10), 'held');
    assert.equal(judge(holder(here), true, 86_400_000), 'held');
  });

  it('takes the lock of a holder on this host that is gone at once', () => {
    assert.equal(judge(holder(here), false, 10), 'dead');
  });

  it('takes the lock of a holder on another host, or an unknown one, only once stale', () => {
    for (const h of [holder('build-2'), null]) {
      assert.equal(judge(h, false, 59_000), 'held');
      assert.equal(judge(h, false, 61_000), 'stale');
      // Whether a pid of the same number runs here says nothing about another host.
      assert.equal(judge(h, true, 61_000), 'stale');
    }
  });
});
