'use strict'
/**
 * Minimal TypeScript loader for the benchmark's server processes: transpiles each .ts file on require with
 * the project's compiler options (like `ts-node --transpile-only`), with inline source maps so profiles
 * and stack traces point at TypeScript lines.
 *
 * Why not ts-node here: ts-node's register loads node:repl, which loads node:domain, which wraps every
 * EventEmitter constructor (+~250 ns each, a few per HTTP request). A production server (`node dist/…`)
 * does not pay that, so the servers under load should not either. The load generator still runs under ts-node.
 */
const fs = require('node:fs')
const path = require('node:path')
const ts = require('typescript')

const root = path.resolve(__dirname, '../..')
const configFile = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile)
if (configFile.error) throw new Error(ts.flattenDiagnosticMessageText(configFile.error.messageText, '\n'))
const { options } = ts.convertCompilerOptionsFromJson(configFile.config.compilerOptions, root)
const compilerOptions = {
  ...options,
  module: ts.ModuleKind.CommonJS,
  sourceMap: false,
  inlineSourceMap: true,
  inlineSources: true,
  declaration: false,
  noEmit: false,
}

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const source = fs.readFileSync(filename, 'utf8')
  const { outputText } = ts.transpileModule(source, { fileName: filename, compilerOptions, reportDiagnostics: false })
  module._compile(outputText, filename)
}
