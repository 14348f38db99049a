import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../../../src/errors.js';
import type { LogFields, Logger } from '../../../src/log.js';
import { fileDeadlineMs, RequestDeadlineError } from '../../../src/upstream/limits.js';
import {
  RETRY_AFTER_CAP_MS,
  isRetryableError,
  parseRetryAfterMs,
  retryDelayMs,
  toUpstreamError,
  withRetries,
} from '../../../src/upstream/retry.js';
import { UpstreamStatusError } from '../../../src/upstream/send.js';

interface Record_ {
  level: string;
  msg: string;
  fields: LogFields;
}

function captureLogger(records: Record_[] = []): Logger & { records: Record_[] } {
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}): void => {
      records.push({ level, msg, fields });
    };
  const log = {
    records,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => log,
  };
  return log;
}

const NOW = Date.parse('2025-01-01T00:00:00Z');

test('exponential backoff with full jitter stays within [0, min(max, min·2^(n-1)))', () => {
  const opts = { minMs: 500, maxMs: 5000 };
  assert.equal(retryDelayMs(1, { ...opts, random: () => 0 }), 0);
  assert.equal(retryDelayMs(1, { ...opts, random: () => 0.999999 }), 499);
  assert.equal(retryDelayMs(2, { ...opts, random: () => 0.5 }), 500);
  assert.equal(retryDelayMs(3, { ...opts, random: () => 0.5 }), 1000);
  assert.equal(retryDelayMs(10, { ...opts, random: () => 0.999999 }), 4999);
  for (let attempt = 1; attempt <= 8; attempt++) {
    for (let i = 0; i < 50; i++) {
      const d = retryDelayMs(attempt, opts);
      assert.ok(d >= 0 && d < Math.min(5000, 500 * 2 ** (attempt - 1)), `attempt ${attempt}: ${d}`);
    }
  }
});

test('Retry-After as seconds or an HTTP date, capped', () => {
  const opts = { minMs: 500, maxMs: 5000, random: () => 0, now: () => NOW };
  assert.equal(retryDelayMs(1, { ...opts, retryAfter: '3' }), 3000);
  assert.equal(retryDelayMs(1, { ...opts, retryAfter: ' 0 ' }), 0);
  assert.equal(retryDelayMs(1, { ...opts, retryAfter: new Date(NOW + 7000).toUTCString() }), 7000);
  assert.equal(retryDelayMs(1, { ...opts, retryAfter: new Date(NOW - 7000).toUTCString() }), 0);
  assert.equal(retryDelayMs(1, { ...opts, retryAfter: '3600' }), RETRY_AFTER_CAP_MS);
  assert.equal(retryDelayMs(1, { ...opts, retryAfter: 'soon', random: () => 0.5 }), 250);
  assert.equal(parseRetryAfterMs(null, NOW), null);
  assert.equal(parseRetryAfterMs('-5', NOW), null);
});

test('withRetries retries retryable failures and logs each retry with a redacted URL', async () => {
  const log = captureLogger();
  let calls = 0;
  const result = await withRetries(
    async (attempt) => {
      calls++;
      if (attempt < 2) throw new UpstreamStatusError('https://u.example/simple/', 503, null);
      return 'ok';
    },
    {
      retries: 4,
      minMs: 1,
      maxMs: 2,
      signal: new AbortController().signal,
      log,
      describe: 'GET https://user:secret@u.example/simple/',
    },
  );
  assert.equal(result, 'ok');
  assert.equal(calls, 3);
  assert.equal(log.records.length, 2);
  assert.deepEqual(
    log.records.map((r) => [r.level, r.fields.attempt]),
    [
      ['warn', 1],
      ['warn', 2],
    ],
  );
  assert.equal(log.records[0]?.fields.request, 'GET https://***@u.example/simple/');
  assert.ok(!JSON.stringify(log.records).includes('secret'));
  assert.equal(typeof log.records[0]?.fields.delayMs, 'number');
});

test('withRetries gives up after `retries` and throws the last error', async () => {
  let calls = 0;
  const err = new UpstreamStatusError('https://u.example/', 502, null);
  await assert.rejects(
    withRetries(
      async () => {
        calls++;
        throw err;
      },
      {
        retries: 2,
        minMs: 1,
        maxMs: 1,
        signal: new AbortController().signal,
        log: captureLogger(),
        describe: 'x',
      },
    ),
    (e) => e === err,
  );
  assert.equal(calls, 3);
});

test('no retry on 404 or on unknown errors', async () => {
  for (const failure of [new UpstreamStatusError('https://u.example/', 404, null), new TypeError('bug')]) {
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw failure;
        },
        {
          retries: 4,
          minMs: 1,
          maxMs: 1,
          signal: new AbortController().signal,
          log: captureLogger(),
          describe: 'x',
        },
      ),
      (e) => e === failure,
    );
    assert.equal(calls, 1);
  }
});

test('retry classification by status and code', () => {
  const status = (s: number) => new UpstreamStatusError('https://u.example/', s, null);
  assert.ok(isRetryableError(status(500)));
  assert.ok(isRetryableError(status(429)));
  assert.ok(!isRetryableError(status(403)));
  assert.ok(!isRetryableError(new UpstreamError('UPSTREAM_NOT_FOUND', 'x', { url: 'x', status: 404 })));
  assert.ok(!isRetryableError(new UpstreamError('UPSTREAM_PAYLOAD', 'x', { url: 'x' })));
  for (const code of [
    'UND_ERR_SOCKET',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT',
    'ECONNRESET',
    'EPIPE',
  ]) {
    assert.ok(isRetryableError(Object.assign(new Error(code), { code })), code);
  }
  assert.ok(
    isRetryableError(
      new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
    ),
  );
  assert.ok(!isRetryableError(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })));
});

test('toUpstreamError maps codes, aborts and leaves bugs alone', () => {
  const url = 'https://user:pw@u.example/simple/';
  const timeout = toUpstreamError(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), url);
  assert.ok(timeout instanceof UpstreamError && timeout.code === 'UPSTREAM_TIMEOUT');
  assert.ok(!timeout.message.includes('pw'));
  const reset = toUpstreamError(Object.assign(new Error('r'), { code: 'ECONNRESET' }), url);
  assert.ok(reset instanceof UpstreamError && reset.code === 'UPSTREAM_NETWORK');
  const bug = new TypeError('bug');
  assert.equal(toUpstreamError(bug, url), bug);
  const ctl = new AbortController();
  const reason = new Error('shutdown');
  ctl.abort(reason);
  const aborted = toUpstreamError(reset, url, ctl.signal);
  assert.ok(
    aborted instanceof UpstreamError && aborted.code === 'UPSTREAM_ABORTED' && aborted.cause === reason,
  );
});

test('abort during the backoff sleep stops retrying promptly', async () => {
  const ctl = new AbortController();
  const reason = new Error('stop');
  let calls = 0;
  const started = Date.now();
  setTimeout(() => ctl.abort(reason), 20);
  await assert.rejects(
    withRetries(
      async () => {
        calls++;
        throw new UpstreamStatusError('https://u.example/', 503, '30');
      },
      { retries: 4, minMs: 10_000, maxMs: 10_000, signal: ctl.signal, log: captureLogger(), describe: 'x' },
    ),
    (e) => e === reason,
  );
  assert.equal(calls, 1);
  assert.ok(Date.now() - started < 1000);
});

test('an already aborted signal makes no call', async () => {
  const ctl = new AbortController();
  ctl.abort(new Error('early'));
  let calls = 0;
  await assert.rejects(
    withRetries(
      async () => {
        calls++;
      },
      { retries: 4, minMs: 1, maxMs: 1, signal: ctl.signal, log: captureLogger(), describe: 'x' },
    ),
    /early/,
  );
  assert.equal(calls, 0);
});

test('TLS failures, a refusing proxy and a passed deadline are classified and not retried', (t) => {
  const url = 'https://user:pw@u.example/simple/';
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
  const cases: [Error, string, string, boolean][] = [
    [
      coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      'UPSTREAM_TLS',
      'TLS: certificate is signed by an unknown authority (UNABLE_TO_VERIFY_LEAF_SIGNATURE); trust its CA with ca_file or NODE_EXTRA_CA_CERTS',
      false,
    ],
    [coded('SELF_SIGNED_CERT_IN_CHAIN'), 'UPSTREAM_TLS', 'TLS: certificate is signed by an unknown', false],
    [coded('CERT_HAS_EXPIRED'), 'UPSTREAM_TLS', 'TLS: certificate has expired (CERT_HAS_EXPIRED)', false],
    [
      coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      'UPSTREAM_TLS',
      'TLS: certificate is not for this host (ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP',
      false,
    ],
    [
      coded('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'),
      'UPSTREAM_TLS',
      'TLS: wrong version',
      false,
    ],
    [coded('ERR_TLS_HANDSHAKE_TIMEOUT'), 'UPSTREAM_TIMEOUT', 'ERR_TLS_HANDSHAKE_TIMEOUT', true],
    [
      coded('UND_ERR_ABORTED', 'Proxy response (407) !== 200 when HTTP Tunneling'),
      'UPSTREAM_PROXY',
      'the proxy answered HTTP 407 Proxy Authentication Required: check the user and password in HTTPS_PROXY',
      false,
    ],
    [
      coded('UND_ERR_INVALID_ARG', 'Proxy Authentication Required (407)'),
      'UPSTREAM_PROXY',
      'the proxy answered HTTP 407',
      false,
    ],
    [
      coded('UND_ERR_ABORTED', 'Proxy response (502) !== 200 when HTTP Tunneling'),
      'UPSTREAM_PROXY',
      'the proxy answered HTTP 502 instead of connecting',
      true,
    ],
  ];
  for (const [err, code, says, isRetried] of cases) {
    assert.equal(isRetryableError(err), isRetried, `${err.message}: raw`);
    const mapped = toUpstreamError(new Error('wrapped', { cause: err }), url);
    assert.ok(mapped instanceof UpstreamError && mapped.code === code, String(mapped));
    assert.ok(mapped.message.startsWith(`https://***@u.example/simple/: ${says}`), mapped.message);
    assert.equal(isRetryableError(mapped), isRetried, `${err.message}: mapped`);
  }
  const deadline = new RequestDeadlineError(new URL(url), 1_500, 500);
  assert.equal(deadline.code, 'UPSTREAM_TIMEOUT');
  assert.equal(
    deadline.message,
    'https://***@u.example/simple/: not complete within the request deadline of 1s500ms (500ms plus 1s per MiB of the file); see request_deadline',
  );
  assert.ok(!isRetryableError(deadline));
  assert.ok(
    isRetryableError(new UpstreamError('UPSTREAM_TIMEOUT', 'idle', { url: 'x' })),
    'an idle timeout is',
  );
  t.diagnostic(`cases: ${cases.length + 1}`);
});

test('a file is allowed one more second per MiB (started) of its size', () => {
  assert.equal(fileDeadlineMs(60_000, null), 60_000);
  assert.equal(fileDeadlineMs(60_000, 0), 60_000);
  assert.equal(fileDeadlineMs(60_000, 1), 61_000);
  assert.equal(fileDeadlineMs(60_000, 10 * 1024 ** 3), 60_000 + 10_240_000);
});
