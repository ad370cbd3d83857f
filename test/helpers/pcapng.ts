/**
 * A pcapng block walker for tests, written from the format's specification
 * and independent of wirecap's writer: the options of SHBs, IDBs and ISBs,
 * and each EPB's interface id (little-endian sections, as this host writes).
 */
import fs from 'node:fs';

export interface Idb {
  linktype: number;
  snaplen: number;
  /** Option code -> raw value. */
  options: Map<number, Buffer>;
}

export interface Isb {
  interfaceId: number;
  /** Option code -> 64-bit value. */
  counters: Map<number, bigint>;
}

export interface PcapngBlocks {
  shb: Map<number, Buffer>;
  idbs: Idb[];
  epbInterfaces: number[];
  isbs: Isb[];
  /** Block types in file order. */
  order: number[];
}

function options(buf: Buffer, start: number, end: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let at = start;
  while (at + 4 <= end) {
    const code = buf.readUInt16LE(at);
    const length = buf.readUInt16LE(at + 2);
    if (code === 0) break;
    out.set(code, buf.subarray(at + 4, at + 4 + length));
    at += 4 + ((length + 3) & ~3);
  }
  return out;
}

export function readPcapng(file: string): PcapngBlocks {
  const buf = fs.readFileSync(file);
  const result: PcapngBlocks = { shb: new Map(), idbs: [], epbInterfaces: [], isbs: [], order: [] };
  let at = 0;
  while (at + 12 <= buf.length) {
    const type = buf.readUInt32LE(at);
    const length = buf.readUInt32LE(at + 4);
    if (length < 12 || at + length > buf.length || buf.readUInt32LE(at + length - 4) !== length) {
      throw new Error(`bad block at ${at}`);
    }
    const end = at + length - 4;
    result.order.push(type);
    if (type === 0x0a0d0d0a) {
      result.shb = options(buf, at + 24, end);
    } else if (type === 1) {
      result.idbs.push({ linktype: buf.readUInt16LE(at + 8), snaplen: buf.readUInt32LE(at + 12), options: options(buf, at + 16, end) });
    } else if (type === 6) {
      result.epbInterfaces.push(buf.readUInt32LE(at + 8));
    } else if (type === 5) {
      const counters = new Map<number, bigint>();
      for (const [code, value] of options(buf, at + 20, end)) {
        // isb_starttime and isb_endtime are two 32-bit halves, high first; the counters are 64-bit numbers.
        counters.set(code, code === 2 || code === 3 ? (BigInt(value.readUInt32LE(0)) << 32n) | BigInt(value.readUInt32LE(4)) : value.readBigUInt64LE(0));
      }
      result.isbs.push({ interfaceId: buf.readUInt32LE(at + 8), counters });
    }
    at += length;
  }
  if (at !== buf.length) throw new Error(`${buf.length - at} bytes after the last block`);
  return result;
}

/** ISB option codes (pcapng specification). */
export const ISB = { starttime: 2, endtime: 3, ifrecv: 4, ifdrop: 5, filteraccept: 6, osdrop: 7, usrdeliv: 8 } as const;
