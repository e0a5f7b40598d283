// @ts-check
/**
 * ESLint: a small type-aware rule set over the TypeScript (and the few CommonJS scripts) in src, test,
 * bench, migrations and scripts, and the dashboard's sources in web/src (its own tsconfig: DOM, Preact JSX).
 * Deliberate exceptions carry an eslint-disable comment saying why.
 */
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  // Build output, local data, and a generated table (see bench/matcher/gen-t2s.ts).
  { ignores: ['dist/', 'data/', 'coverage/', 'src/text/t2s-data.ts'] },
  {
    files: ['{src,test,bench,migrations,scripts}/**/*.{ts,js}', 'web/src/**/*.{ts,tsx}'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        // tsconfig.json covers the TypeScript (web/tsconfig.json the dashboard's); the CommonJS scripts get the service's default project.
        projectService: { allowDefaultProject: ['scripts/*.js', 'bench/admin-api/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {
        argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_',
      }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // The code already marks its exceptions to these two; keep them meaningful.
      '@typescript-eslint/no-unsafe-function-type': 'error',
      'no-control-regex': 'error',
    },
  },
  { files: ['**/*.js'], languageOptions: { sourceType: 'commonjs' } },
)
