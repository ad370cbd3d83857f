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

/** Bytes joined by colons, as MAC addresses are written. */
export function macText(d: Uint8Array, o: number, n = 6): string {
  let s = HEX[d[o]];
  for (let i = 1; i < n; i++) s += ':' + HEX[d[o + i]];
  return s;
}

export const ipv4Text = (d: Uint8Array, o: number): string => d[o] + '.' + d[o + 1] + '.' + d[o + 2] + '.' + d[o + 3];

const words = new Uint16Array(8);

/**
 * RFC 5952 text, as inet_ntop (and so tshark) writes it: the first longest
 * run of two or more zero groups becomes '::', and IPv4-mapped (::ffff:0:0/96)
 * and IPv4-compatible (::/96, beyond ::1) addresses end in dotted quads.
 */
export function ipv6Text(d: Uint8Array, o: number): string {
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

/** Ends decoding at layer: marks it and leaves the rest as payload. */
export function stopAt(out: Decoded, layer: LayerStatus, how: 'truncated' | 'malformed', reason: string, off: number, end: number): void {
  layer[how] = reason;
  payload(out, off, end);
}

export function payload(out: Decoded, off: number, end: number): void {
  out.payloadOffset = off;
  out.payloadLength = end > off ? end - off : 0;
}

/** A layer that could not even start: what it is and why it stopped. */
export function cut(of: CutLayer['of'], reason: string): CutLayer {
  return { layer: 'cut', of, truncated: reason };
}
