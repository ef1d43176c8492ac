// Lint rules that catch defects; layout is prettier's job (.prettierrc.json), so no stylistic rules here.
// `npm run lint` runs this over the tree (src/, test/, scripts/ and these config files).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'build/', 'prebuilds/', '.libtorch/', '.venv/', 'test/fixtures/', 'alignkit-demo/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names are deliberately unused (a callback's leading parameters, a destructured rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-throw-literal': 'error',
      // Tests match printed lines whose columns are separated by two spaces; ` {2}` reads worse than the line.
      'no-regex-spaces': 'off',
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
);
