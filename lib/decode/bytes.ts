/** Reading fields and writing addresses in their usual notation. */
import type { CutLayer, Decoded, LayerStatus } from './types';

export const u16 = (d: Uint8Array, o: number): number => (d[o] << 8) | d[o + 1];
export const u32 = (d: Uint8Array, o: number): number => ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hexText(d: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += HEX[d[i]];
  return s;
}

// Captures repeat a few addresses over and over: small direct-mapped caches
// of their text save most of the string building (and the garbage) per packet.
const CACHE_SLOTS = 1024;
const macKeys = new Uint32Array(2 * CACHE_SLOTS);
const macTexts: (string | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);
const v4Keys = new Uint32Array(CACHE_SLOTS);
const v4Texts: (string | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);
const v6Keys = new Uint32Array(4 * CACHE_SLOTS);
const v6Texts: (string | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);
const slotOf = (x: number): number => (Math.imul(x, 0x9e3779b1) >>> 22) & (CACHE_SLOTS - 1);

/** Bytes joined by colons, as MAC addresses are written (n of them; 6 by default). */
export function macText(d: Uint8Array, o: number, n = 6): string {
  if (n !== 6) return joinHex(d, o, n);
  const hi = (d[o] << 8) | d[o + 1];
  const lo = u32(d, o + 2);
  const slot = slotOf(lo ^ hi);
  const cached = macTexts[slot];
  if (cached !== undefined && macKeys[2 * slot] === hi && macKeys[2 * slot + 1] === lo) return cached;
  const text = joinHex(d, o, 6);
  macKeys[2 * slot] = hi;
  macKeys[2 * slot + 1] = lo;
  macTexts[slot] = text;
  return text;
}

function joinHex(d: Uint8Array, o: number, n: number): string {
  let s = HEX[d[o]];
  for (let i = 1; i < n; i++) s += ':' + HEX[d[o + i]];
  return s;
}

const DEC: string[] = Array.from({ length: 256 }, (_, i) => String(i));

export function ipv4Text(d: Uint8Array, o: number): string {
  const key = u32(d, o);
  const slot = slotOf(key);
  const cached = v4Texts[slot];
  if (cached !== undefined && v4Keys[slot] === key) return cached;
  const text = DEC[d[o]] + '.' + DEC[d[o + 1]] + '.' + DEC[d[o + 2]] + '.' + DEC[d[o + 3]];
  v4Keys[slot] = key;
  v4Texts[slot] = text;
  return text;
}

/** Bytes as characters of the same codes (DNS labels and TXT strings). */
export function latin1Text(d: Uint8Array, start: number, end: number): string {
  if (end - start > 24) return String.fromCharCode.apply(null, d.subarray(start, end) as unknown as number[]);
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(d[i]);
  return s;
}

const words = new Uint16Array(8);

/**
 * RFC 5952 text, as inet_ntop (and so tshark) writes it: the first longest
 * run of two or more zero groups becomes '::', and IPv4-mapped (::ffff:0:0/96)
 * and IPv4-compatible (::/96, beyond ::1) addresses end in dotted quads.
 */
export function ipv6Text(d: Uint8Array, o: number): string {
  const a = u32(d, o);
  const b = u32(d, o + 4);
  const c = u32(d, o + 8);
  const e = u32(d, o + 12);
  const slot = slotOf(a ^ b ^ c ^ e);
  const cached = v6Texts[slot];
  const k = 4 * slot;
  if (cached !== undefined && v6Keys[k] === a && v6Keys[k + 1] === b && v6Keys[k + 2] === c && v6Keys[k + 3] === e) return cached;
  const text = ipv6Format(d, o);
  v6Keys[k] = a;
  v6Keys[k + 1] = b;
  v6Keys[k + 2] = c;
  v6Keys[k + 3] = e;
  v6Texts[slot] = text;
  return text;
}

function ipv6Format(d: Uint8Array, o: number): string {
  let bestStart = -1;
  let bestLength = 0;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const w = (d[o + 2 * i] << 8) | d[o + 2 * i + 1];
    words[i] = w;
    if (w === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLength) {
        bestStart = runStart;
        bestLength = i - runStart + 1;
      }
    } else runStart = -1;
  }
  if (bestLength < 2) bestStart = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLength - 1;
      continue;
    }
    if (i === 6 && bestStart === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff))) {
      return s + ipv4Text(d, o + 12);
    }
    s += words[i].toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

/** The list a layer has when it has none: one shared, frozen array, so that an empty list costs nothing. */
export const NONE: readonly never[] = Object.freeze([]);

/** Ends decoding at layer: marks it and leaves the rest as payload. */
export function stopAt(out: Decoded, layer: LayerStatus, how: 'truncated' | 'malformed', reason: string, off: number, end: number): void {
  // Named stores: a keyed one (layer[how]) takes V8's slow path on every layer type.
  if (how === 'truncated') layer.truncated = reason;
  else layer.malformed = reason;
  payload(out, off, end);
}

export function payload(out: Decoded, off: number, end: number): void {
  out.payloadOffset = off;
  out.payloadLength = end > off ? end - off : 0;
}

/**
 * When fewer than needed bytes are left at off for the fixed header of
 * layer `of`: records it as cut, leaves the rest as payload and says true.
 */
export function cutShort(out: Decoded, of: CutLayer['of'], header: string, needed: number, off: number, end: number): boolean {
  if (end - off >= needed) return false;
  const layer: CutLayer = { layer: 'cut', of, truncated: `${header} needs ${needed} bytes, ${Math.max(0, end - off)} captured` };
  out.layers.push(layer);
  payload(out, off, end);
  return true;
}
