// Flat config: typescript-eslint's recommended rules, plus the purity rule of docs/architecture.md "Layers":
// pure modules (config validation, name rules, filters, planner, page rendering) import no I/O library.
import tseslint from 'typescript-eslint';

const ioModules = ['node:fs', 'node:fs/promises', 'fs', 'undici', 'chokidar', 'winston', 'proper-lockfile'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/plan/**/*.ts', 'src/config/validate.ts', 'src/mirror/layout.ts', 'src/mirror/render.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: ioModules.map((name) => ({ name, message: 'pure module: no I/O' })) },
      ],
    },
  },
);
