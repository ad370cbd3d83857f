// The prebuilds nothing here can run (darwin-x64, darwin-arm64, win32-arm64),
// checked from their bytes with the readers in test/helpers/macho.ts and
// pe.ts: what they load, what they leave for the loader to resolve, the OS
// they need, their exports, their unwind data and, on arm64 macOS, the code
// signature with every page hash recomputed. The two win32-x64 builds (the
// shipped mingw one and the Zig one test/windows.test.ts also runs) get the
// same PE checks.
import fs from 'node:fs';
import path from 'node:path';
import { codeDirectory, CPU_TYPE_ARM64, CPU_TYPE_X86_64, CS_ADHOC, CS_LINKER_SIGNED, DYNAMIC_LOOKUP_ORDINAL, MH_DYLIB, parseMachO } from './helpers/macho';
import { IMAGE_FILE_MACHINE_AMD64, IMAGE_FILE_MACHINE_ARM64, parsePe } from './helpers/pe';
import { NEEDS } from '../lib/core/load';
import { ROOT } from './helpers/traffic';

const ENTRY_POINTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];
/** Every function node.exe (and node on macOS) exports to addons, from node-api-headers. */
const NODE_API = new Set(
  fs
    .readFileSync(path.join(ROOT, 'node_modules', 'node-api-headers', 'def', 'node_api.def'), 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => /^(napi|node_api)_/.test(l)),
);

function read(file: string): Buffer {
  const full = path.join(ROOT, file);
  if (!fs.existsSync(full)) throw new Error(`${file} is missing: scripts/prebuild.sh builds it`);
  return fs.readFileSync(full);
}

describe.each([
  { dir: 'darwin-x64', cputype: CPU_TYPE_X86_64 },
  { dir: 'darwin-arm64', cputype: CPU_TYPE_ARM64 },
])('prebuilds/$dir/wirecap.node (Mach-O)', ({ dir, cputype }) => {
  const file = `prebuilds/${dir}/wirecap.node`;
  let bytes: Buffer;
  let macho: ReturnType<typeof parseMachO>;
  beforeAll(() => {
    bytes = read(file);
    macho = parseMachO(bytes);
  });

  test('is a dylib for its CPU that loads /usr/lib/libSystem.B.dylib and nothing else, names itself @rpath/wirecap.node and has no rpath', () => {
    expect(macho.cputype).toBe(cputype);
    expect(macho.filetype).toBe(MH_DYLIB);
    expect(macho.dylibs).toEqual(['/usr/lib/libSystem.B.dylib']);
    expect(macho.id).toBe('@rpath/wirecap.node');
    expect(macho.rpaths).toEqual([]);
  });

  test('leaves only N-API functions for node to resolve at load time; every other undefined symbol binds to libSystem', () => {
    const flat = macho.undefined.filter((s) => s.ordinal === DYNAMIC_LOOKUP_ORDINAL).map((s) => s.name.slice(1));
    expect(flat.length).toBeGreaterThan(30);
    expect(flat.filter((name) => !NODE_API.has(name))).toEqual([]);
    // Ordinal 1 is the first (and only) library: libSystem.
    expect(macho.undefined.filter((s) => s.ordinal !== DYNAMIC_LOOKUP_ORDINAL && s.ordinal !== 1)).toEqual([]);
    expect(macho.undefined.map((s) => s.name)).toEqual(expect.arrayContaining(['_pthread_create', '_dlopen']));
  });

  test('states macOS 11.0 as its minimum, as the load error (lib/core/load.ts) says', () => {
    expect(macho.platform).toBe(1); // PLATFORM_MACOS
    expect(macho.minos).toBe('11.0');
    expect(NEEDS[dir]).toBe(`macOS ${macho.minos} or later`);
  });

  test("exports N-API's entry points", () => {
    expect(macho.exports).toEqual(expect.arrayContaining(ENTRY_POINTS.map((n) => `_${n}`)));
  });

  test('carries no debug information', () => {
    expect(macho.segments.map((s) => s.name)).not.toContain('__DWARF');
    expect(bytes.includes('__debug_info')).toBe(false);
  });
});

describe('prebuilds/darwin-arm64/wirecap.node code signature', () => {
  let bytes: Buffer;
  let macho: ReturnType<typeof parseMachO>;
  beforeAll(() => {
    bytes = read('prebuilds/darwin-arm64/wirecap.node');
    macho = parseMachO(bytes);
  });

  test('is an ad-hoc, linker-made signature over the whole file before it, and every SHA-256 page hash matches the bytes', () => {
    const sig = macho.codeSignature;
    expect(sig).not.toBeNull();
    expect(sig!.dataoff + sig!.datasize).toBeLessThanOrEqual(bytes.length);
    const cd = codeDirectory(bytes, macho);
    expect(cd.flags & CS_ADHOC).toBe(CS_ADHOC);
    expect(cd.flags & CS_LINKER_SIGNED).toBe(CS_LINKER_SIGNED);
    expect(cd.identifier).toBe('wirecap.node');
    expect(cd.hashType).toBe(2); // SHA-256
    expect(cd.codeLimit).toBe(sig!.dataoff);
    expect(cd.pages).toBe(Math.ceil(sig!.dataoff / cd.pageSize));
    expect(cd.badPages).toEqual([]);
    // The executable segment the kernel maps as code is __TEXT.
    const text = macho.segments.find((s) => s.name === '__TEXT')!;
    expect([cd.execSegBase, cd.execSegLimit]).toEqual([text.fileoff, text.filesize]);
  });

  test('a byte changed after linking (as strip or install_name_tool would) fails its page', () => {
    const text = macho.segments.find((s) => s.name === '__TEXT')!;
    const copy = Buffer.from(bytes);
    const at = text.fileoff + Math.floor(text.filesize / 2);
    copy[at] ^= 0xff;
    expect(codeDirectory(copy, parseMachO(copy)).badPages).toEqual([Math.floor(at / codeDirectory(bytes, macho).pageSize)]);
  });
});

// The C runtime each build imports: msvcrt.dll (Windows' own, on every
// version and architecture) for MinGW's default, or the UCRT's DLLs.
const SYSTEM_DLLS = /^(kernel32|ws2_32|msvcrt|ucrtbase|api-ms-win-crt-[a-z0-9-]+)\.dll$/i;

describe.each([
  { file: 'prebuilds/win32-arm64/wirecap.node', machine: IMAGE_FILE_MACHINE_ARM64, zig: true },
  { file: 'prebuilds/win32-x64/wirecap.node', machine: IMAGE_FILE_MACHINE_AMD64, zig: false },
  { file: 'checked/win32-x64-zig/wirecap.node', machine: IMAGE_FILE_MACHINE_AMD64, zig: true },
])('$file (PE)', ({ file, machine, zig }) => {
  let bytes: Buffer;
  let pe: ReturnType<typeof parsePe>;
  beforeAll(() => {
    bytes = read(file);
    pe = parsePe(bytes);
  });

  test('is a DLL for its machine type', () => {
    expect(pe.machine).toBe(machine);
    expect(pe.dll).toBe(true);
  });

  test("imports N-API from node.exe and otherwise only Windows' own DLLs; wpcap.dll is loaded at run time, not imported", () => {
    const dlls = [...pe.imports.keys()];
    expect(dlls.filter((d) => d.toLowerCase() !== 'node.exe' && !SYSTEM_DLLS.test(d))).toEqual([]);
    const fromNode = pe.imports.get('node.exe') ?? [];
    expect(fromNode.length).toBeGreaterThan(30);
    expect(fromNode.filter((name) => !NODE_API.has(name))).toEqual([]);
    expect([...pe.imports.keys(), ...pe.delayImports.keys()].map((d) => d.toLowerCase())).not.toContain('wpcap.dll');
    // ...and its name is there for LoadLibrary (src-native/loader/pcap_api.cc).
    expect(bytes.includes('wpcap.dll') || bytes.includes(Buffer.from('wpcap.dll', 'utf16le'))).toBe(true);
  });

  test("exports N-API's entry points, and besides them at most the statically linked unwinder's", () => {
    const names = [...pe.exports.keys()];
    expect(names).toEqual(expect.arrayContaining(ENTRY_POINTS));
    // Zig's libunwind marks its API dllexport; a DLL's exports bind nobody else's imports.
    const others = names.filter((n) => !ENTRY_POINTS.includes(n));
    expect(others.filter((n) => !(zig && /^(_Unwind_|unw_|_GCC_specific_handler$)/.test(n)))).toEqual([]);
  });

  test('has unwind data: sorted .pdata entries inside code, covering most of it and the module registration, some with C++ exception handlers', () => {
    const code = pe.sections.filter((s) => s.executable);
    const inCode = (rva: number): boolean => code.some((s) => rva >= s.virtualAddress && rva < s.virtualAddress + s.virtualSize);
    expect(pe.functions.length).toBeGreaterThan(100);
    // Each entry after the previous one's end, inside the code, of some length.
    const wrong = pe.functions.filter((f, i) => {
      const previous = pe.functions[i - 1];
      return (previous !== undefined && f.begin < previous.begin + previous.length) || !inCode(f.begin) || f.length <= 0;
    });
    expect(wrong).toEqual([]);
    const covered = pe.functions.reduce((sum, f) => sum + f.length, 0);
    const codeBytes = code.reduce((sum, s) => sum + s.virtualSize, 0);
    expect(covered / codeBytes).toBeGreaterThan(0.9);
    // The module's registration (node_api_module_get_api_version_v1 is a
    // leaf that only returns a constant: Windows needs no entry for it).
    const register = pe.exports.get('napi_register_module_v1')!;
    expect(pe.functions.filter((f) => register >= f.begin && register < f.begin + f.length)).toHaveLength(1);
    expect(pe.functions.filter((f) => f.handler).length).toBeGreaterThan(50);
  });

  test('carries no debug information', () => {
    expect(pe.debugDirectorySize).toBe(0);
    expect(pe.sections.filter((s) => s.name.startsWith('.debug') || /^\/\d+$/.test(s.name))).toEqual([]);
  });
});
