/**
 * HTTP/1.x's line-level pieces, read in place without regex captures:
 * the sniffer, start lines, chunk-size lines, the headers that frame a
 * body, and the byte classes a head may hold.
 */
import type { Direction } from './types';

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A chunk-size line: hex digits, then an extension. */
const CHUNK_LINE = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/;
/** A Content-Length value. */
const DIGITS = /^\d{1,15}$/;
/** Bytes no HTTP head holds: controls other than tab, CR and LF, and DEL. */
export const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
/** The end of a head whose lines end in CRLF: a line's LF, then an empty line. */
export const BLANK_LINE = Buffer.from('\n\r\n', 'latin1');

/** 1 for the bytes a method (an RFC 9110 token) is made of. */
const TOKEN = Uint8Array.from({ length: 256 }, (_, c) => (METHOD.test(String.fromCharCode(c)) ? 1 : 0));
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f];

/** Does this look like the start of an HTTP/1.x message? (null: too short to say) Read from the bytes, no string made. */
export function sniffHttp(direction: Direction, bytes: Buffer): boolean | null {
  const n = Math.min(bytes.length, 24);
  if (direction === 'server') {
    for (let i = 0; i < n && i < 5; i++) if (bytes[i] !== HTTP_SLASH[i]) return false;
    return n < 5 ? null : true;
  }
  let space = 0;
  while (space < n && bytes[space] !== 0x20) {
    if (TOKEN[bytes[space]] === 0) return false;
    space++;
  }
  if (space === n) return n < 20 ? null : false;
  if (space === 0) return false;
  // A method, a space, then a request target: "/", "*", a scheme or an authority (CONNECT).
  return n > space + 1 ? true : null;
}


const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** The whitespace String.prototype.trim removes, of those a latin1 head line can hold. */
export const isBlank = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;

/** Is this header name `lower` (lower-case ASCII letters and '-'), in any case? As name.toLowerCase() === lower, without making a string. */
export function isName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    const l = lower.charCodeAt(i);
    if (c !== l && !(l >= 0x61 && l <= 0x7a && c === l - 0x20)) return false;
  }
  return true;
}

/** "<method> <target> HTTP/<d>.<d>" (the target without spaces) read in place, or null. */
export function requestLine(line: string): { method: string; uri: string; version: string } | null {
  const space = line.indexOf(' ');
  const last = line.length - 9; // where " HTTP/d.d" starts
  if (space <= 0 || last <= space + 1 || line.indexOf(' ', space + 1) !== last) return null;
  if (!line.startsWith(' HTTP/', last) || !isDigit(line.charCodeAt(last + 6)) || line.charCodeAt(last + 7) !== 0x2e || !isDigit(line.charCodeAt(last + 8))) return null;
  const method = line.slice(0, space);
  if (!METHOD.test(method)) return null;
  return { method, uri: line.slice(space + 1, last), version: line.slice(last + 6) };
}

/** "HTTP/<d>.<d> <ddd>[ <reason>]" read in place (the reason holds no CR), or null. */
export function statusLine(line: string): { version: string; status: number; reason: string } | null {
  const c = (i: number): number => line.charCodeAt(i);
  if (line.length < 12 || !line.startsWith('HTTP/') || !isDigit(c(5)) || c(6) !== 0x2e || !isDigit(c(7)) || c(8) !== 0x20) return null;
  if (!isDigit(c(9)) || !isDigit(c(10)) || !isDigit(c(11))) return null;
  if (line.length > 12 && (c(12) !== 0x20 || line.includes('\r', 13))) return null;
  return { version: line.slice(5, 8), status: (c(9) - 0x30) * 100 + (c(10) - 0x30) * 10 + (c(11) - 0x30), reason: line.slice(13) };
}

/** The authority of an absolute URI (http://host/...), or null. */
export function authorityOf(uri: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(uri);
  return m === null ? null : m[1];
}

/** A chunk-size line "<hex>\r\n" (no extension) whole at bytes[at]: the size (0 for the last chunk) and where the line ends, or null (read it as a line). */
export function chunkSize(bytes: Buffer, at: number): { size: number; end: number } | null {
  let size = 0;
  let i = at;
  for (; i < bytes.length && i - at < 12; i++) {
    const c = bytes[i];
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) break;
    size = size * 16 + d;
  }
  if (i === at || i + 1 >= bytes.length || bytes[i] !== 0x0d || bytes[i + 1] !== 0x0a) return null;
  return { size, end: i + 2 };
}

/** A chunk-size line read as text (without its line end; an extension allowed, a last chunk's trailers follow): the size, or null. */
export function chunkSizeText(line: string): number | null {
  const m = CHUNK_LINE.exec(line);
  return m === null ? null : parseInt(m[1], 16);
}

/** What the headers say of the body: chunked (the last Transfer-Encoding ends in chunked) and the Content-Length, or 'bad' (lengths that disagree). */
export function bodyHeaders(headers: Array<[string, string]>): { chunked: boolean; length: number | null } | 'bad' {
  let chunked = false;
  let length: number | null = null;
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i][0];
    const value = headers[i][1];
    if (isName(name, 'transfer-encoding')) {
      chunked = value.toLowerCase().split(',').pop()!.trim() === 'chunked';
    } else if (isName(name, 'content-length')) {
      // Usually one plain number; a list must repeat one number.
      let n: number;
      if (DIGITS.test(value)) {
        n = Number(value);
      } else {
        const values = value.split(',').map((v) => v.trim());
        if (!values.every((v) => DIGITS.test(v)) || new Set(values).size !== 1) return 'bad';
        n = Number(values[0]);
      }
      if (length !== null && length !== n) return 'bad';
      length = n;
    }
  }
  return { chunked, length };
}
