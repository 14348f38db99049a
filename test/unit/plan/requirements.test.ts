import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseRequirement,
  parseRequirementsFile,
  RequirementsError,
  RequirementSyntaxError,
} from '../../../src/plan/requirements.js';

test('PEP 508 requirements: names, extras, specifiers, markers', (t) => {
  const cases: [string, { project: string; extras: string[]; specifier: string; marker: boolean }][] = [
    ['requests', { project: 'requests', extras: [], specifier: '', marker: false }],
    [
      'Requests[Socks, security] >= 2.30, < 3',
      { project: 'requests', extras: ['security', 'socks'], specifier: '>=2.30,<3', marker: false },
    ],
    ['zope.interface (>=5)', { project: 'zope-interface', extras: [], specifier: '>=5', marker: false }],
    ['numpy<2; python_version < "3.10"', { project: 'numpy', extras: [], specifier: '<2', marker: true }],
    ['pywin32 ; sys_platform == "win32"', { project: 'pywin32', extras: [], specifier: '', marker: true }],
    ['foo[]', { project: 'foo', extras: [], specifier: '', marker: false }],
    ['django==4.2.*', { project: 'django', extras: [], specifier: '==4.2.*', marker: false }],
    ['pkg~=1.4.2', { project: 'pkg', extras: [], specifier: '~=1.4.2', marker: false }],
  ];
  for (const [text, expected] of cases) {
    const r = parseRequirement(text);
    assert.deepEqual(
      { project: r.project, extras: r.extras, specifier: r.specifier, marker: r.marker !== null },
      expected,
      text,
    );
    assert.equal(r.text, text.trim());
  }
  const bad: [string, RegExp][] = [
    ['pkg @ https://example.org/pkg-1.0.tar.gz', /direct reference/],
    ['pkg >= two', /PEP 440 version specifier/],
    ['pkg 1.0', /PEP 440 version specifier/],
    ['pkg[sec', /"\]"/],
    ['pkg; ', /a marker after ";"/],
    ['pkg; python_version <<< "3"', /invalid marker/],
    ['-pkg', /a project name/],
  ];
  for (const [text, message] of bad) {
    assert.throws(
      () => parseRequirement(text),
      (e: unknown) => e instanceof RequirementSyntaxError && message.test(e.message),
      text,
    );
  }
  t.diagnostic(`cases: ${cases.length + bad.length}`);
});

/** An in-memory file tree for the readFile callback. */
function files(tree: Record<string, string>): (path: string) => string {
  return (path) => {
    const content = tree[path];
    if (content === undefined) throw new Error(`ENOENT: no such file '${path}'`);
    return content;
  };
}

test('requirements files: comments, continuations, includes relative to the including file', () => {
  const read = files({
    '/etc/mirror/requirements.txt': [
      '# top-level needs',
      'fakepkg-alpha[extra1] >= 1.0  # trailing comment',
      '-r base/common.txt',
      'numpy \\',
      '   <2 ; python_version < "3.10"',
      '',
      '--requirement=../shared/tools.txt',
      'pinned==1.2.3 \\',
      '    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000 \\',
      '    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111',
      '--index-url https://example.org/simple',
      '--extra-index-url=https://example.org/other',
      '--pre',
    ].join('\n'),
    '/etc/mirror/base/common.txt': 'requests>=2.30\n-r more.txt\n',
    '/etc/mirror/base/more.txt': 'six\r\n',
    '/etc/shared/tools.txt': '  # nothing but a comment\n  pywin32 ; sys_platform == "win32"\n',
  });
  const parsed = parseRequirementsFile('/etc/mirror/requirements.txt', read);
  assert.deepEqual(
    parsed.entries.map((e) => `${e.file}:${e.line} ${e.requirement.project}${e.requirement.specifier}`),
    [
      '/etc/mirror/requirements.txt:2 fakepkg-alpha>=1.0',
      '/etc/mirror/base/common.txt:1 requests>=2.30',
      '/etc/mirror/base/more.txt:1 six',
      '/etc/mirror/requirements.txt:4 numpy<2',
      '/etc/shared/tools.txt:2 pywin32',
      '/etc/mirror/requirements.txt:8 pinned==1.2.3',
    ],
  );
  assert.deepEqual(parsed.entries[0]?.requirement.extras, ['extra1']);
  assert.notEqual(parsed.entries[3]?.requirement.marker, null);
  assert.deepEqual(parsed.files, [
    '/etc/mirror/requirements.txt',
    '/etc/mirror/base/common.txt',
    '/etc/mirror/base/more.txt',
    '/etc/shared/tools.txt',
  ]);
  assert.deepEqual(
    parsed.warnings.map((w) => `${w.line} ${w.message.split(' ')[0]}`),
    ['11 --index-url', '12 --extra-index-url', '13 --pre'],
  );
});

test('requirements files: a file included twice is read once; a cycle is an error naming the chain', () => {
  const diamond = parseRequirementsFile(
    '/r/a.txt',
    files({
      '/r/a.txt': '-r b.txt\n-r c.txt\n',
      '/r/b.txt': '-r d.txt\n',
      '/r/c.txt': '-r d.txt\n',
      '/r/d.txt': 'six\n',
    }),
  );
  assert.deepEqual(
    diamond.entries.map((e) => e.requirement.project),
    ['six'],
  );
  assert.throws(
    () =>
      parseRequirementsFile(
        '/r/a.txt',
        files({ '/r/a.txt': 'six\n-r b.txt\n', '/r/b.txt': '\n\n-r ./a.txt\n' }),
      ),
    (e: unknown) =>
      e instanceof RequirementsError &&
      e.code === 'REQUIREMENTS_CYCLE' &&
      e.message === '/r/b.txt:3: includes form a cycle: /r/a.txt -> /r/b.txt -> /r/a.txt',
  );
  assert.throws(
    () => parseRequirementsFile('/r/a.txt', files({ '/r/a.txt': 'six\n-r missing.txt\n' })),
    (e: unknown) =>
      e instanceof RequirementsError &&
      e.code === 'REQUIREMENTS_INVALID' &&
      e.message.startsWith('/r/a.txt:2: cannot read requirements file /r/missing.txt: ENOENT'),
  );
});

test('requirements files: what cannot be mirrored is an error with file and line', (t) => {
  const cases: [string, RegExp][] = [
    ['-e git+https://github.com/pypa/pip.git#egg=pip', /an editable requirement cannot be mirrored/],
    ['--editable ./src', /an editable requirement cannot be mirrored/],
    ['https://example.org/pkg-1.0.tar.gz', /a URL cannot be mirrored/],
    ['git+https://github.com/pypa/pip.git', /a URL cannot be mirrored/],
    ['pkg @ https://example.org/pkg-1.0.tar.gz', /direct reference/],
    ['./vendor/pkg', /a local path cannot be mirrored/],
    ['/opt/wheels/pkg-1.0-py3-none-any.whl', /a local path cannot be mirrored/],
    ['pkg-1.0-py3-none-any.whl', /a local path cannot be mirrored/],
    ['.', /a local path cannot be mirrored/],
    ['-r https://example.org/reqs.txt', /includes from a URL are not supported/],
    ['-r', /-r needs a file name/],
    ['--index-url', /--index-url needs a value/],
    ['--frobnicate', /unknown or unsupported pip option/],
    ['pkg >= nonsense', /PEP 440 version specifier/],
    ['pkg; python_version <', /invalid marker/],
  ];
  for (const [line, message] of cases) {
    assert.throws(
      () => parseRequirementsFile('/r/reqs.txt', files({ '/r/reqs.txt': `# header\nsix\n${line}\n` })),
      (e: unknown) =>
        e instanceof RequirementsError &&
        e.file === '/r/reqs.txt' &&
        e.line === 3 &&
        e.message.startsWith('/r/reqs.txt:3: ') &&
        message.test(e.message),
      line,
    );
  }
  t.diagnostic(`cases: ${cases.length}`);
});
