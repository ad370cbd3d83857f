/**
 * A reader of the PE32+ DLLs the win32 prebuilds are, enough to check them
 * without Windows: machine type, imports (plain and delay-loaded), exports,
 * and the exception directory's unwind data. Layouts: Microsoft's PE format
 * specification ("PE Format", sections Optional Header, .idata, .edata,
 * .pdata) and its ARM64 exception handling page for the .xdata records.
 */
export const IMAGE_FILE_MACHINE_AMD64 = 0x8664;
export const IMAGE_FILE_MACHINE_ARM64 = 0xaa64;
const IMAGE_FILE_DLL = 0x2000;
const PE32_PLUS = 0x20b;
const IMAGE_SCN_MEM_EXECUTE = 0x20000000;

const DIR_EXPORT = 0;
const DIR_IMPORT = 1;
const DIR_EXCEPTION = 3;
const DIR_DEBUG = 6;
const DIR_DELAY_IMPORT = 13;

export interface Section {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
  executable: boolean;
}

export interface RuntimeFunction {
  begin: number;
  /** Bytes of code the entry covers. */
  length: number;
  /** The .xdata record names a language handler (C++ personality, __C_specific_handler). */
  handler: boolean;
}

export interface PeFile {
  machine: number;
  dll: boolean;
  sections: Section[];
  /** DLL name (as written) to the names it imports ('#n' for ordinals). */
  imports: Map<string, string[]>;
  delayImports: Map<string, string[]>;
  /** Exported name to its RVA. */
  exports: Map<string, number>;
  /** Entries of the exception directory (.pdata), in file order. */
  functions: RuntimeFunction[];
  debugDirectorySize: number;
}

function cstring(buf: Buffer, at: number): string {
  const stop = buf.indexOf(0, at);
  return buf.toString('latin1', at, stop < 0 ? buf.length : stop);
}

export function parsePe(file: Buffer): PeFile {
  if (file.toString('latin1', 0, 2) !== 'MZ') throw new Error('no MZ header');
  const pe = file.readUInt32LE(0x3c);
  if (file.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error('no PE signature');
  const coff = pe + 4;
  const machine = file.readUInt16LE(coff);
  const nsections = file.readUInt16LE(coff + 2);
  const optionalSize = file.readUInt16LE(coff + 16);
  const characteristics = file.readUInt16LE(coff + 18);
  const opt = coff + 20;
  if (file.readUInt16LE(opt) !== PE32_PLUS) throw new Error('not PE32+');
  const ndirs = file.readUInt32LE(opt + 108);
  const dir = (i: number): { rva: number; size: number } =>
    i < ndirs ? { rva: file.readUInt32LE(opt + 112 + i * 8), size: file.readUInt32LE(opt + 116 + i * 8) } : { rva: 0, size: 0 };

  const sections: Section[] = [];
  for (let i = 0, at = opt + optionalSize; i < nsections; i++, at += 40) {
    sections.push({
      name: cstring(file.subarray(at, at + 8), 0),
      virtualSize: file.readUInt32LE(at + 8),
      virtualAddress: file.readUInt32LE(at + 12),
      rawSize: file.readUInt32LE(at + 16),
      rawOffset: file.readUInt32LE(at + 20),
      executable: (file.readUInt32LE(at + 36) & IMAGE_SCN_MEM_EXECUTE) !== 0,
    });
  }
  const offset = (rva: number): number => {
    const s = sections.find((x) => rva >= x.virtualAddress && rva < x.virtualAddress + Math.max(x.virtualSize, x.rawSize));
    if (s === undefined) throw new Error(`RVA 0x${rva.toString(16)} is in no section`);
    return s.rawOffset + rva - s.virtualAddress;
  };

  /** An import name table (PE32+: 8-byte thunks, bit 63 = by ordinal). */
  const thunkNames = (rva: number): string[] => {
    const names: string[] = [];
    for (let at = offset(rva); ; at += 8) {
      const thunk = file.readBigUInt64LE(at);
      if (thunk === 0n) return names;
      names.push(thunk >> 63n ? `#${Number(thunk & 0xffffn)}` : cstring(file, offset(Number(thunk & 0x7fffffffn)) + 2));
    }
  };

  const imports = new Map<string, string[]>();
  const importDir = dir(DIR_IMPORT);
  if (importDir.rva !== 0) {
    for (let at = offset(importDir.rva); file.readUInt32LE(at + 12) !== 0; at += 20) {
      const lookup = file.readUInt32LE(at) || file.readUInt32LE(at + 16);
      imports.set(cstring(file, offset(file.readUInt32LE(at + 12))), thunkNames(lookup));
    }
  }
  const delayImports = new Map<string, string[]>();
  const delayDir = dir(DIR_DELAY_IMPORT);
  if (delayDir.rva !== 0) {
    for (let at = offset(delayDir.rva); file.readUInt32LE(at + 4) !== 0; at += 32) {
      delayImports.set(cstring(file, offset(file.readUInt32LE(at + 4))), thunkNames(file.readUInt32LE(at + 16)));
    }
  }

  const exported = new Map<string, number>();
  const exportDir = dir(DIR_EXPORT);
  if (exportDir.rva !== 0) {
    const at = offset(exportDir.rva);
    const addresses = offset(file.readUInt32LE(at + 28));
    const names = offset(file.readUInt32LE(at + 32));
    const ordinals = offset(file.readUInt32LE(at + 36));
    for (let i = 0; i < file.readUInt32LE(at + 24); i++) {
      const name = cstring(file, offset(file.readUInt32LE(names + i * 4)));
      exported.set(name, file.readUInt32LE(addresses + file.readUInt16LE(ordinals + i * 2) * 4));
    }
  }

  const functions: RuntimeFunction[] = [];
  const exceptionDir = dir(DIR_EXCEPTION);
  if (exceptionDir.rva !== 0) {
    const at = offset(exceptionDir.rva);
    if (machine === IMAGE_FILE_MACHINE_ARM64) {
      // 8-byte entries: the start, then either packed unwind data (flag 1, 2)
      // or the RVA of an .xdata record whose first word holds the length.
      for (let i = 0; i < exceptionDir.size / 8; i++) {
        const begin = file.readUInt32LE(at + i * 8);
        const unwind = file.readUInt32LE(at + i * 8 + 4);
        const flag = unwind & 3;
        if (flag === 1 || flag === 2) {
          functions.push({ begin, length: ((unwind >>> 2) & 0x7ff) * 4, handler: false });
        } else {
          const header = file.readUInt32LE(offset(unwind));
          functions.push({ begin, length: (header & 0x3ffff) * 4, handler: ((header >>> 20) & 1) === 1 });
        }
      }
    } else {
      // x64: 12-byte entries (begin, end, UNWIND_INFO); flags 1|2 (EHANDLER, UHANDLER) name a handler.
      for (let i = 0; i < exceptionDir.size / 12; i++) {
        const begin = file.readUInt32LE(at + i * 12);
        const info = offset(file.readUInt32LE(at + i * 12 + 8));
        functions.push({ begin, length: file.readUInt32LE(at + i * 12 + 4) - begin, handler: ((file[info] >> 3) & 3) !== 0 });
      }
    }
  }

  return {
    machine,
    dll: (characteristics & IMAGE_FILE_DLL) !== 0,
    sections,
    imports,
    delayImports,
    exports: exported,
    functions,
    debugDirectorySize: dir(DIR_DEBUG).size,
  };
}
