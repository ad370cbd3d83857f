// What every shipped Linux binary asks of the system it lands on, read from
// its ELF headers with readelf (which reads any architecture): the glibc
// builds need at most GLIBC_2.17 and no libstdc++ or libgcc_s (no GLIBCXX,
// CXXABI or GCC_ version), the musl builds need musl's libc.so alone; each
// is stripped, is built for its directory's machine, and exports N-API's
// entry points and nothing else, so no C++ runtime symbol reaches the host.
// The capture helper beside every addon is held to the same floors (it is a
// program: its exports are not checked), and it is a dynamic program with
// its libc's loader as interpreter, since it dlopens libpcap.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/traffic';

/** Every Linux binary the package ships, with the ELF machine readelf names and the libraries it may need. */
const GLIBC_LIBS = ['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2'];
const BINARIES: { file: string; machine: RegExp; libc: 'glibc' | 'musl' }[] = [
  { file: 'linux-x64/wirecap.glibc.node', machine: /X86-64/, libc: 'glibc' },
  { file: 'linux-arm64/wirecap.glibc.node', machine: /AArch64/, libc: 'glibc' },
  { file: 'linux-arm/wirecap.armv7.glibc.node', machine: /^ARM$/, libc: 'glibc' },
  { file: 'linux-x64/wirecap.musl.node', machine: /X86-64/, libc: 'musl' },
  { file: 'linux-arm64/wirecap.musl.node', machine: /AArch64/, libc: 'musl' },
  { file: 'linux-x64/wirecap-helper', machine: /X86-64/, libc: 'glibc' },
  { file: 'linux-arm64/wirecap-helper', machine: /AArch64/, libc: 'glibc' },
  { file: 'linux-arm/wirecap-helper', machine: /^ARM$/, libc: 'glibc' },
  { file: 'linux-x64/wirecap-helper.musl', machine: /X86-64/, libc: 'musl' },
  { file: 'linux-arm64/wirecap-helper.musl', machine: /AArch64/, libc: 'musl' },
];
/** Each helper's interpreter: the loader of its libc on its machine. */
const INTERPRETERS: Record<string, string> = {
  'linux-x64/wirecap-helper': '/lib64/ld-linux-x86-64.so.2',
  'linux-arm64/wirecap-helper': '/lib/ld-linux-aarch64.so.1',
  'linux-arm/wirecap-helper': '/lib/ld-linux-armhf.so.3',
  'linux-x64/wirecap-helper.musl': '/lib/ld-musl-x86_64.so.1',
  'linux-arm64/wirecap-helper.musl': '/lib/ld-musl-aarch64.so.1',
};
/** The newest glibc a prebuild may need: 2.17 runs on RHEL 7, Amazon Linux 2 and everything since. */
const GLIBC_FLOOR = [2, 17];
const ENTRY_POINTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];

const readelf = (args: string[], file: string): string => execFileSync('readelf', ['-W', ...args, file], { encoding: 'utf8' });

/** The versions the binary requires (readelf -V's .gnu.version_r), as "library: VERSION". */
function versionNeeds(file: string): string[] {
  const needs: string[] = [];
  let library = '';
  for (const line of readelf(['-V'], file).split('\n')) {
    const lib = /File: (\S+)/.exec(line);
    if (lib) library = lib[1];
    const version = /Name: (\S+)\s+Flags/.exec(line);
    if (version) needs.push(`${library}: ${version[1]}`);
  }
  return needs;
}

const needed = (file: string): string[] => [...readelf(['-d'], file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);

/** Symbols the binary defines in its dynamic table (what a host process can bind to). */
function exported(file: string): string[] {
  return readelf(['--dyn-syms'], file)
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^\d+:$/.test(f[0]) && f[6] !== 'UND' && (f[4] === 'GLOBAL' || f[4] === 'WEAK') && f[3] !== 'SECTION')
    .map((f) => f[7].replace(/@.*/, ''))
    .sort();
}

const olderOrEqual = (version: number[], floor: number[]): boolean => (version[0] - floor[0] || version[1] - floor[1]) <= 0;

describe.each(BINARIES)('prebuilds/$file', ({ file, machine, libc }) => {
  const binary = path.join(ROOT, 'prebuilds', file);

  test('is there, built for its directory\u2019s machine, and stripped', () => {
    expect(fs.existsSync(binary)).toBe(true);
    const header = readelf(['-h'], binary);
    expect(/Machine:\s+(.*)/.exec(header)?.[1].trim()).toMatch(machine);
    if (file.startsWith('linux-arm/')) expect(header).toMatch(/Flags:.*hard-float ABI/);
    expect(readelf(['-S'], binary)).not.toMatch(/\.symtab/);
  });

  // The helper is a program, not loaded into another process: what its
  // dynamic table holds binds nothing, so only the addons' exports are checked.
  if (file in INTERPRETERS) {
    test(`is a dynamic program loaded by ${INTERPRETERS[file]}`, () => {
      expect(/Requesting program interpreter: ([^\]]+)\]/.exec(readelf(['-l'], binary))?.[1]).toBe(INTERPRETERS[file]);
      expect(readelf(['-h'], binary)).toMatch(/Type:\s+DYN/);
    });
  } else {
    test('exports N-API\u2019s entry points and nothing else', () => {
      expect(exported(binary)).toEqual(ENTRY_POINTS.slice().sort());
    });
  }

  if (libc === 'glibc') {
    test(`needs glibc ${GLIBC_FLOOR.join('.')} at most, and no libstdc++ or libgcc_s`, () => {
      expect(needed(binary).filter((l) => !GLIBC_LIBS.includes(l))).toEqual([]);
      const needs = versionNeeds(binary);
      expect(needs.filter((n) => !/: GLIBC_\d+(\.\d+)+$/.test(n))).toEqual([]);
      const newer = needs.filter((n) => !olderOrEqual(n.replace(/.*GLIBC_/, '').split('.').map(Number), GLIBC_FLOOR));
      expect(newer).toEqual([]);
    });
  } else {
    test('needs musl\u2019s libc.so alone, with no symbol versions', () => {
      expect(needed(binary)).toEqual(['libc.so']);
      expect(versionNeeds(binary)).toEqual([]);
    });
  }
});
