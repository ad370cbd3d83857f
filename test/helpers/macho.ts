/**
 * A reader of the 64-bit Mach-O dylibs the darwin prebuilds are, enough to
 * check them without Apple's tools: load commands, the symbol table with
 * each undefined symbol's library, the exports trie, and the code
 * signature's CodeDirectory with its page hashes recomputed.
 * Layouts: <mach-o/loader.h>, <mach-o/nlist.h>, and the code signing
 * blobs of xnu's osfmk/kern/cs_blobs.h (big-endian, unlike the rest).
 */
import { createHash } from 'node:crypto';

const MH_MAGIC_64 = 0xfeedfacf;
export const CPU_TYPE_X86_64 = 0x01000007;
export const CPU_TYPE_ARM64 = 0x0100000c;
export const MH_DYLIB = 6;

const LC_SEGMENT_64 = 0x19;
const LC_SYMTAB = 0x2;
const LC_LOAD_DYLIB = 0xc;
const LC_ID_DYLIB = 0xd;
const LC_LOAD_WEAK_DYLIB = 0x80000018;
const LC_REEXPORT_DYLIB = 0x8000001f;
const LC_LAZY_LOAD_DYLIB = 0x20;
const LC_LOAD_UPWARD_DYLIB = 0x80000023;
const LC_VERSION_MIN_MACOSX = 0x24;
const LC_BUILD_VERSION = 0x32;
const LC_CODE_SIGNATURE = 0x1d;
const LC_DYLD_INFO_ONLY = 0x80000022;
const LC_DYLD_EXPORTS_TRIE = 0x80000033;
const LC_RPATH = 0x8000001c;
const DYLIB_COMMANDS = new Set([LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB]);
const PLATFORM_MACOS = 1;

const N_STAB = 0xe0;
const N_TYPE = 0x0e;
const N_EXT = 0x01;
const N_UNDF = 0x0;
/** An undefined symbol's library ordinal meaning "look it up in every loaded image" (-undefined dynamic_lookup). */
export const DYNAMIC_LOOKUP_ORDINAL = 0xfe;

const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSSLOT_CODEDIRECTORY = 0;
export const CS_ADHOC = 0x2;
export const CS_LINKER_SIGNED = 0x20000;
const CS_HASHTYPE_SHA256 = 2;

export interface Segment {
  name: string;
  vmaddr: bigint;
  fileoff: number;
  filesize: number;
  /** initprot: 1 read, 2 write, 4 execute. */
  initprot: number;
}

export interface UndefinedSymbol {
  name: string;
  /** 1-based index into dylibs, or DYNAMIC_LOOKUP_ORDINAL. */
  ordinal: number;
}

export interface CodeDirectory {
  version: number;
  flags: number;
  hashType: number;
  hashSize: number;
  pageSize: number;
  codeLimit: number;
  identifier: string;
  execSegBase?: number;
  execSegLimit?: number;
  /** Pages whose stored SHA-256 differs from the one computed from the file. */
  badPages: number[];
  pages: number;
}

export interface MachO {
  cputype: number;
  filetype: number;
  /** LC_ID_DYLIB's install name. */
  id: string | null;
  /** Install names of every library loaded, weakly, lazily, upward or re-exported, in ordinal order. */
  dylibs: string[];
  rpaths: string[];
  /** LC_BUILD_VERSION's (or LC_VERSION_MIN_MACOSX's) minimum macOS, as "11.0". */
  minos: string | null;
  platform: number | null;
  segments: Segment[];
  undefined: UndefinedSymbol[];
  /** Names in the exports trie (what dyld lets others bind to). */
  exports: string[];
  codeSignature: { dataoff: number; datasize: number } | null;
}

const version = (v: number): string => `${v >>> 16}.${(v >>> 8) & 0xff}${v & 0xff ? `.${v & 0xff}` : ''}`;

function cstring(buf: Buffer, at: number, end = buf.length): string {
  const stop = buf.indexOf(0, at);
  return buf.toString('utf8', at, stop < 0 || stop > end ? end : stop);
}

function uleb(buf: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= buf.length) throw new Error('uleb128 runs past the exports trie');
    const byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, at];
  }
}

/** Every terminal's name in an exports trie (dyld's format: a prefix tree of edge strings). */
function trieNames(trie: Buffer): string[] {
  const names: string[] = [];
  const seen = new Set<number>();
  const walk = (offset: number, prefix: string): void => {
    if (seen.has(offset)) throw new Error(`exports trie loops at ${offset}`);
    seen.add(offset);
    let [terminalSize, at] = uleb(trie, offset);
    if (terminalSize > 0) names.push(prefix);
    at += terminalSize;
    const children = trie[at++];
    for (let i = 0; i < children; i++) {
      const edge = cstring(trie, at);
      at += Buffer.byteLength(edge) + 1;
      let child: number;
      [child, at] = uleb(trie, at);
      walk(child, prefix + edge);
    }
  };
  if (trie.length > 0) walk(0, '');
  return names;
}

export function parseMachO(file: Buffer): MachO {
  if (file.readUInt32LE(0) !== MH_MAGIC_64) throw new Error('not a 64-bit little-endian Mach-O file');
  const out: MachO = {
    cputype: file.readUInt32LE(4),
    filetype: file.readUInt32LE(12),
    id: null,
    dylibs: [],
    rpaths: [],
    minos: null,
    platform: null,
    segments: [],
    undefined: [],
    exports: [],
    codeSignature: null,
  };
  const ncmds = file.readUInt32LE(16);
  let at = 32;
  let symtab: { symoff: number; nsyms: number; stroff: number; strsize: number } | null = null;
  let trie: Buffer | null = null;
  for (let i = 0; i < ncmds; i++) {
    const cmd = file.readUInt32LE(at);
    const size = file.readUInt32LE(at + 4);
    if (DYLIB_COMMANDS.has(cmd)) out.dylibs.push(cstring(file, at + file.readUInt32LE(at + 8), at + size));
    else if (cmd === LC_ID_DYLIB) out.id = cstring(file, at + file.readUInt32LE(at + 8), at + size);
    else if (cmd === LC_RPATH) out.rpaths.push(cstring(file, at + file.readUInt32LE(at + 8), at + size));
    else if (cmd === LC_BUILD_VERSION) {
      out.platform = file.readUInt32LE(at + 8);
      out.minos = version(file.readUInt32LE(at + 12));
    } else if (cmd === LC_VERSION_MIN_MACOSX) {
      out.platform = PLATFORM_MACOS;
      out.minos = version(file.readUInt32LE(at + 8));
    } else if (cmd === LC_SEGMENT_64) {
      out.segments.push({
        name: cstring(file, at + 8, at + 24),
        vmaddr: file.readBigUInt64LE(at + 24),
        fileoff: Number(file.readBigUInt64LE(at + 40)),
        filesize: Number(file.readBigUInt64LE(at + 48)),
        initprot: file.readUInt32LE(at + 60),
      });
    } else if (cmd === LC_SYMTAB) {
      symtab = { symoff: file.readUInt32LE(at + 8), nsyms: file.readUInt32LE(at + 12), stroff: file.readUInt32LE(at + 16), strsize: file.readUInt32LE(at + 20) };
    } else if (cmd === LC_DYLD_INFO_ONLY) {
      const off = file.readUInt32LE(at + 40);
      trie = file.subarray(off, off + file.readUInt32LE(at + 44));
    } else if (cmd === LC_DYLD_EXPORTS_TRIE) {
      const off = file.readUInt32LE(at + 8);
      trie = file.subarray(off, off + file.readUInt32LE(at + 12));
    } else if (cmd === LC_CODE_SIGNATURE) {
      out.codeSignature = { dataoff: file.readUInt32LE(at + 8), datasize: file.readUInt32LE(at + 12) };
    }
    at += size;
  }
  if (symtab !== null) {
    for (let i = 0; i < symtab.nsyms; i++) {
      const entry = symtab.symoff + i * 16;
      const type = file[entry + 4];
      if ((type & N_STAB) !== 0 || (type & N_TYPE) !== N_UNDF || (type & N_EXT) === 0) continue;
      const name = cstring(file, symtab.stroff + file.readUInt32LE(entry), symtab.stroff + symtab.strsize);
      out.undefined.push({ name, ordinal: file.readUInt16LE(entry + 6) >> 8 });
    }
  }
  if (trie !== null) out.exports = trieNames(trie);
  return out;
}

/**
 * The embedded signature's CodeDirectory, with every page hash recomputed
 * from the file as the kernel does when it pages the code in: SHA-256 of
 * each pageSize slice of the file up to codeLimit.
 */
export function codeDirectory(file: Buffer, macho: MachO): CodeDirectory {
  if (macho.codeSignature === null) throw new Error('no LC_CODE_SIGNATURE');
  const sig = file.subarray(macho.codeSignature.dataoff, macho.codeSignature.dataoff + macho.codeSignature.datasize);
  if (sig.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) throw new Error('the signature is not an embedded signature SuperBlob');
  const count = sig.readUInt32BE(8);
  let cdAt = -1;
  for (let i = 0; i < count; i++) {
    if (sig.readUInt32BE(12 + i * 8) === CSSLOT_CODEDIRECTORY) cdAt = sig.readUInt32BE(16 + i * 8);
  }
  if (cdAt < 0 || sig.readUInt32BE(cdAt) !== CSMAGIC_CODEDIRECTORY) throw new Error('no CodeDirectory in the signature');
  const cd = sig.subarray(cdAt, cdAt + sig.readUInt32BE(cdAt + 4));
  const cdVersion = cd.readUInt32BE(8);
  const hashOffset = cd.readUInt32BE(16);
  const nCodeSlots = cd.readUInt32BE(28);
  const codeLimit = cd.readUInt32BE(32);
  const hashSize = cd[36];
  const hashType = cd[37];
  const pageSize = 2 ** cd[39];
  const result: CodeDirectory = {
    version: cdVersion,
    flags: cd.readUInt32BE(12),
    hashType,
    hashSize,
    pageSize,
    codeLimit,
    identifier: cstring(cd, cd.readUInt32BE(20)),
    badPages: [],
    pages: nCodeSlots,
  };
  if (cdVersion >= 0x20400) {
    result.execSegBase = Number(cd.readBigUInt64BE(64));
    result.execSegLimit = Number(cd.readBigUInt64BE(72));
  }
  if (hashType !== CS_HASHTYPE_SHA256 || hashSize !== 32) return result;
  if (nCodeSlots !== Math.ceil(codeLimit / pageSize)) throw new Error(`${nCodeSlots} code slots for ${codeLimit} bytes of ${pageSize}-byte pages`);
  for (let page = 0; page < nCodeSlots; page++) {
    const start = page * pageSize;
    const digest = createHash('sha256').update(file.subarray(start, Math.min(start + pageSize, codeLimit))).digest();
    if (!digest.equals(cd.subarray(hashOffset + page * hashSize, hashOffset + (page + 1) * hashSize))) result.badPages.push(page);
  }
  return result;
}
