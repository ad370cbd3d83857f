'use strict';
// Lets a bench require the tests' TypeScript helpers (test/helpers/*.ts):
// each is compiled as it loads, with the project's own compiler.
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true } });
  module._compile(outputText, filename);
};
