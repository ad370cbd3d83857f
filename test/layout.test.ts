/**
 * The shape of the source tree: lib/ modules import one another without
 * circles, and the native contract (lib/core/binding.ts) depends on nothing
 * of the facade. Imports are read with TypeScript's own scanner.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const LIB = path.join(__dirname, '..', 'lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** The lib/ modules a file imports (type-only imports too: they bind the layers as well). */
function localImports(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => {
      const base = path.resolve(path.dirname(file), name);
      const candidates = [`${base}.ts`, `${base}.d.ts`, path.join(base, 'index.ts')];
      const found = candidates.find((c) => fs.existsSync(c));
      if (found === undefined) throw new Error(`${path.relative(LIB, file)} imports ${name}, which is not in lib/`);
      return found;
    });
}

const graph = new Map(sources(LIB).map((f) => [f, localImports(f)]));
const rel = (f: string): string => path.relative(LIB, f);

test('no lib/ module takes part in an import circle', () => {
  const circles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'visiting');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'visiting') circles.push([...stack.slice(stack.indexOf(next)), next].map(rel).join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  expect(circles).toEqual([]);
});

test('the native contract imports nothing from the facade, only the shared base in lib/core', () => {
  const outside = (graph.get(path.join(LIB, 'core', 'binding.ts')) ?? []).map(rel).filter((f) => !f.startsWith('core/'));
  expect(outside).toEqual([]);
});

test('lib/core, the shared base, imports nothing from the layers above it', () => {
  const upward = [...graph.entries()]
    .filter(([file]) => rel(file).startsWith('core/'))
    .flatMap(([file, imports]) => imports.filter((i) => !rel(i).startsWith('core/')).map((i) => `${rel(file)} -> ${rel(i)}`));
  expect(upward).toEqual([]);
});

test('loading wirecap loads neither gRPC, protobufjs, nats nor node:crypto: they come with the first stream or publish', () => {
  // A script in a child process: jest's own modules do not count, and
  // `node -e` would load node:crypto itself.
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-layout-')), 'load.js');
  fs.writeFileSync(
    script,
    [
      `require(${JSON.stringify(path.join(LIB, '..', 'dist', 'index.js'))});`,
      "const loaded = Object.keys(require.cache).filter((k) => /node_modules[\\\\/](@grpc|protobufjs|nats)[\\\\/]|generated/.test(k));",
      "if (process.moduleLoadList.includes('NativeModule crypto')) loaded.push('node:crypto');",
      'process.stdout.write(JSON.stringify(loaded));',
    ].join('\n'),
  );
  try {
    expect(JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8' }))).toEqual([]);
  } finally {
    fs.rmSync(path.dirname(script), { recursive: true, force: true });
  }
});
