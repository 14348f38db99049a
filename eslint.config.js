// Flat config: typescript-eslint's recommended rules, plus the rules of docs/architecture.md "Layers":
// - the floors: a directory of src/ imports only from its own floor and the floors below it (FLOORS);
// - purity: pure modules (config validation, name rules, filters, planner, page rendering) import no I/O library;
// - size: no file in src/ over 450 lines, no function over 100.
import tseslint from 'typescript-eslint';

const ioModules = ['node:fs', 'node:fs/promises', 'fs', 'undici', 'chokidar', 'winston', 'proper-lockfile'];
const pureFiles = [
  'src/plan/**/*.ts',
  'src/config/validate.ts',
  'src/config/checks.ts',
  'src/config/places.ts',
  'src/model/**/*.ts',
  'src/mirror/render.ts',
  'src/storage/keys.ts',
  'src/storage/content-type.ts',
];

/** The top-level files of the lowest floor (the vocabulary), which every floor may import. */
const VOCABULARY_FILES = ['errors', 'log', 'exit-codes'];
/** The vocabulary's directories: the types and small helpers every floor shares. */
const VOCABULARY_DIRS = ['model', 'util'];

/**
 * Each directory of src/ and the directories it may import from besides its own and the vocabulary's.
 * Files directly in src/ (the entry floor: the command line, the daemon, wiring) may import anything.
 */
const FLOORS = {
  model: [],
  util: [],
  plan: [],
  config: ['plan'],
  upstream: ['plan'],
  storage: ['plan', 'config'],
  mirror: ['plan', 'config', 'upstream', 'storage'],
  sync: ['plan', 'config', 'upstream', 'storage', 'mirror'],
  bundle: ['plan', 'config', 'upstream', 'storage', 'mirror', 'sync'],
};

/** A regex for the relative imports that leave `prefix` for anything but `allowedDirs` and the vocabulary's files. */
function outsideOf(prefix, allowedDirs) {
  const dirs = [...new Set([...allowedDirs, ...VOCABULARY_DIRS])].join('|');
  return `^${prefix.replaceAll('.', '\\.')}(?!(${dirs})/|(${VOCABULARY_FILES.join('|')})\\.js$)`;
}

/** The no-restricted-imports options for `files`: the floor rule, and the I/O ban where `isPure`. */
function restrictedImports(pattern, isPure) {
  return {
    ...(isPure ? { paths: ioModules.map((name) => ({ name, message: 'pure module: no I/O' })) } : {}),
    patterns: [pattern],
  };
}

const floorConfigs = Object.entries(FLOORS).flatMap(([dir, allowed]) => {
  const message = `src/${dir}/ imports only from ${[...new Set([dir, ...allowed, ...VOCABULARY_DIRS])].join(', ')} and src/{${VOCABULARY_FILES.join(',')}}.ts (docs/architecture.md "Layers")`;
  const pattern = { regex: outsideOf('../', allowed), message };
  const files = [`src/${dir}/**/*.ts`];
  const pure = pureFiles.filter((glob) => glob.startsWith(`src/${dir}/`));
  return [
    { files, rules: { 'no-restricted-imports': ['error', restrictedImports(pattern, false)] } },
    ...(pure.length === 0
      ? []
      : [{ files: pure, rules: { 'no-restricted-imports': ['error', restrictedImports(pattern, true)] } }]),
  ];
});

const vocabularyFileConfig = {
  files: VOCABULARY_FILES.map((name) => `src/${name}.ts`),
  rules: {
    'no-restricted-imports': [
      'error',
      restrictedImports(
        {
          regex: outsideOf('./', []),
          message: `src/{${VOCABULARY_FILES.join(',')}}.ts import only from ${VOCABULARY_DIRS.join(', ')} and each other (docs/architecture.md "Layers")`,
        },
        false,
      ),
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.cts'],
    rules: {
      'max-lines': ['error', { max: 450 }],
      'max-lines-per-function': ['error', { max: 100 }],
    },
  },
  {
    // The command (src/pypimirror.cts) is CommonJS: TypeScript's form of require() is how it imports.
    files: ['src/**/*.cts'],
    rules: { '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }] },
  },
  ...floorConfigs,
  vocabularyFileConfig,
);
