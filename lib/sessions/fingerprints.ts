/**
 * Client and server fingerprints as pure functions of parsed hellos:
 * JA3 (Salesforce: the string and its MD5), JA4 and JA4S (FoxIO,
 * technical_details/JA4.md; JA4 is BSD-3, JA4S is JA4+ under the FoxIO
 * License 1.1). GREASE values are left out everywhere.
 */
import { digestHex } from '../core/crypto';
import { isGrease } from './hello';
import type { ClientHello, Fingerprints, ServerHello } from './types';

/** Two lower-case hex digits of each byte value. */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex4 = (v: number): string => HEX2[v >> 8] + HEX2[v & 0xff];
/** Four-digit hex strings sort as their values do: sort the numbers, then spell them. */
function sortedHex(list: number[]): string {
  const sorted = Uint16Array.from(list).sort();
  let out = '';
  for (let i = 0; i < sorted.length; i++) out += i === 0 ? hex4(sorted[i]) : `,${hex4(sorted[i])}`;
  return out;
}
const sha12 = (s: string): string => digestHex('sha256', s).slice(0, 12);
const count2 = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');
const clean = (list: number[]): number[] => list.filter((v) => !isGrease(v));

const VERSIONS: Record<number, string> = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3', 0x0002: 's2', 0xfeff: 'd1', 0xfefd: 'd2', 0xfefc: 'd3' };

/** JA3's string: version, ciphers, extensions, groups, point formats; decimal, GREASE removed. */
export function ja3String(hello: ClientHello): string {
  return [[hello.legacyVersion], clean(hello.cipherSuites), clean(hello.extensions), clean(hello.supportedGroups), hello.ecPointFormats].map((l) => l.join('-')).join(',');
}

export function ja3(hello: ClientHello): { ja3: string; ja3Full: string } {
  const full = ja3String(hello);
  return { ja3Full: full, ja3: digestHex('md5', full) };
}

/** The two characters JA4 and JA4S take from an ALPN value. */
function alpnChars(value: string | undefined): string {
  if (value === undefined || value.length === 0) return '00';
  const alnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (alnum(first) && alnum(last)) return value[0] + value[value.length - 1];
  const hex = Buffer.from(value, 'latin1').toString('hex');
  return hex[0] + hex[hex.length - 1];
}

function versionChars(version: number): string {
  return VERSIONS[version] ?? '00';
}

/** JA4's first part: protocol, version, SNI or not, counts, ALPN. */
function ja4a(hello: ClientHello, transport: 'tcp' | 'quic'): string {
  const versions = clean(hello.supportedVersions);
  const version = hello.extensions.includes(43) && versions.length > 0 ? Math.max(...versions) : hello.legacyVersion;
  const sni = hello.extensions.includes(0) ? 'd' : 'i';
  return `${transport === 'quic' ? 'q' : 't'}${versionChars(version)}${sni}${count2(clean(hello.cipherSuites).length)}${count2(clean(hello.extensions).length)}${alpnChars(hello.alpn[0])}`;
}

/** JA4 and its raw (sorted) form. */
export function ja4(hello: ClientHello, transport: 'tcp' | 'quic'): { ja4: string; ja4r: string } {
  const a = ja4a(hello, transport);
  const ciphers = sortedHex(clean(hello.cipherSuites));
  const exts = sortedHex(hello.extensions.filter((e) => e !== 0 && e !== 16 && !isGrease(e)));
  const sigs = clean(hello.signatureAlgorithms).map(hex4).join(',');
  const c = sigs.length > 0 ? `${exts}_${sigs}` : exts;
  return {
    ja4: `${a}_${ciphers.length > 0 ? sha12(ciphers) : '000000000000'}_${exts.length > 0 ? sha12(c) : '000000000000'}`,
    ja4r: `${a}_${ciphers}_${c}`,
  };
}

/** JA4S: protocol, chosen version, extension count, chosen ALPN; cipher; hash of the extensions in order. */
export function ja4s(hello: ServerHello, transport: 'tcp' | 'quic'): string {
  const exts = hello.extensions.map(hex4).join(',');
  const a = `${transport === 'quic' ? 'q' : 't'}${versionChars(hello.version)}${count2(hello.extensions.length)}${alpnChars(hello.alpn ?? undefined)}`;
  return `${a}_${hex4(hello.cipherSuite)}_${exts.length > 0 ? sha12(exts) : '000000000000'}`;
}

/** Every fingerprint the hellos seen allow (null where a hello is missing). */
export function fingerprints(client: ClientHello | null, server: ServerHello | null, transport: 'tcp' | 'quic'): Fingerprints {
  const j3 = client === null ? null : ja3(client);
  const j4 = client === null ? null : ja4(client, transport);
  return {
    ja3: j3?.ja3 ?? null,
    ja3Full: j3?.ja3Full ?? null,
    ja4: j4?.ja4 ?? null,
    ja4r: j4?.ja4r ?? null,
    ja4s: server === null ? null : ja4s(server, transport),
  };
}
