import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHeld, formatSince, isProcessAlive, ownerPath } from '../../src/mirror/lock.js';

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
