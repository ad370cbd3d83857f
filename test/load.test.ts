// When the addon cannot load, the error says which prebuild failed, what it
// needs of the OS, what this system is, and the one command that builds it
// from source (lib/core/load.ts). Run for real: the package staged as npm
// installs it, with the linux-x64 prebuild replaced by a binary this
// system cannot load (the darwin-arm64 one), or with no prebuild at all.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUILD_FROM_SOURCE, loadFailure, NEEDS } from '../lib/core/load';
import { stagePackage } from './helpers/stage';
import { ROOT } from './helpers/traffic';

const describeX64 = process.platform === 'linux' && process.arch === 'x64' ? describe : describe.skip;

/** Requires the staged package in a fresh node; the error it threw, as JSON. */
function requireError(packageDir: string): { code?: string; message?: string; cause?: string } {
  const script = `try { require(${JSON.stringify(packageDir)}); console.log('{}'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: e.cause && e.cause.message })); }`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
  return JSON.parse(run.stdout);
}

describeX64('a prebuild that cannot load', () => {
  let packageDir: string;
  beforeEach(() => {
    packageDir = stagePackage();
  });
  afterEach(() => fs.rmSync(path.dirname(packageDir), { recursive: true, force: true }));

  test('throws ELOAD naming the prebuild, the glibc it needs, this system and the command that builds from source', () => {
    fs.mkdirSync(path.join(packageDir, 'prebuilds', 'linux-x64'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'prebuilds', 'darwin-arm64', 'wirecap.node'), path.join(packageDir, 'prebuilds', 'linux-x64', 'wirecap.glibc.node'));
    const error = requireError(packageDir);
    expect(error.code).toBe('ELOAD');
    expect(error.message).toContain("wirecap's prebuilt addon for linux-x64 (prebuilds/linux-x64/wirecap.glibc.node) failed to load");
    expect(error.message).toContain('invalid ELF header'); // dlopen's own reason
    expect(NEEDS['linux-x64']).toMatch(/^glibc \d+\.\d+ or later$/);
    expect(error.message).toContain(`It needs ${NEEDS['linux-x64']};`);
    expect(error.message).toMatch(/this system is Linux \S+, glibc \d+\.\d+/);
    expect(error.message).toContain(`Build it from source instead: ${BUILD_FROM_SOURCE}`);
    expect(error.cause).toContain('invalid ELF header');
  });

  test('with no prebuild for the platform, throws ELOAD saying so and how to build one', () => {
    fs.rmSync(path.join(packageDir, 'prebuilds'), { recursive: true });
    const error = requireError(packageDir);
    expect(error.code).toBe('ELOAD');
    expect(error.message).toContain('wirecap has no prebuilt addon for linux-x64');
    expect(error.message).toContain(`Build it from source: ${BUILD_FROM_SOURCE}`);
    expect(error.cause).toMatch(/No native build was found/);
  });
});

test.each([
  ['darwin-arm64', 'darwin-arm64', 'wirecap.node', 'macOS 11.0 or later'],
  ['darwin-x64', 'darwin-x64', 'wirecap.node', 'macOS 11.0 or later'],
  ['win32-arm64', 'win32-arm64', 'wirecap.node', 'Windows 10 or later on ARM64'],
  ['linux-x64-musl', 'linux-x64', 'wirecap.musl.node', "musl's libc"],
])('a %s prebuild that fails to load is named with what it needs', (target, dir, name, needs) => {
  const root = path.join(path.sep, 'app', 'node_modules', 'wirecap');
  const error = loadFailure(path.join(root, 'prebuilds', dir, name), root, new Error('Symbol not found: _pcap_foo\n  Referenced from: ...'));
  expect(error.code).toBe('ELOAD');
  expect(error.message).toContain(`prebuilt addon for ${target} (prebuilds/${dir}/${name}) failed to load: Symbol not found: _pcap_foo.`);
  expect(error.message).toContain(`It needs ${needs}; this system is `);
  expect(error.message).toContain(BUILD_FROM_SOURCE);
});
