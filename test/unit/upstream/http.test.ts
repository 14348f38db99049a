import assert from 'node:assert/strict';
import { test } from 'node:test';
import { strongLastModified, type Response } from '../../../src/upstream/http.js';

const response = (headers: Record<string, string>): Response => ({ headers }) as unknown as Response;

test('strongLastModified keeps Last-Modified only when Date is at least a second later', () => {
  const lm = 'Sat, 21 Nov 2026 10:00:00 GMT';
  assert.equal(
    strongLastModified(response({ 'last-modified': lm, date: 'Sat, 21 Nov 2026 10:00:01 GMT' })),
    lm,
  );
  assert.equal(
    strongLastModified(response({ 'last-modified': lm, date: 'Sun, 22 Nov 2026 08:00:00 GMT' })),
    lm,
  );
  // Served within the second it was stamped: a rewrite in that second would carry the same value.
  assert.equal(strongLastModified(response({ 'last-modified': lm, date: lm })), null);
  // No Date, or values that do not parse: no way to tell, so no validator.
  assert.equal(strongLastModified(response({ 'last-modified': lm })), null);
  assert.equal(strongLastModified(response({ 'last-modified': 'yesterday', date: lm })), null);
  assert.equal(strongLastModified(response({ date: lm })), null);
});
