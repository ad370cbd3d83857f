/**
 * Builders for TLS hellos and TLS records, for the sessions tests (QUIC
 * Initial packets are sealed by lib/sessions/seal.ts, which the fuzzer
 * uses too).
 */
export { cryptoFrame, sealInitial } from '../../lib/sessions/seal';

const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
const vec = (prefix: 1 | 2 | 3, body: Buffer): Buffer => {
  const len = Buffer.alloc(prefix);
  len.writeUIntBE(body.length, 0, prefix);
  return Buffer.concat([len, body]);
};
const list16 = (values: number[]): Buffer => Buffer.concat(values.map(u16));

export interface HelloSpec {
  version?: number;
  ciphers: number[];
  /** Extensions in order: a type with its body, or a known type built from the fields below. */
  extensions: Array<number | [number, Buffer]>;
  sni?: string;
  alpn?: string[];
  groups?: number[];
  pointFormats?: number[];
  sigalgs?: number[];
  versions?: number[];
}

/** A ClientHello handshake message (with its 4-byte header). */
export function clientHello(spec: HelloSpec): Buffer {
  const ext = (e: number | [number, Buffer]): Buffer => {
    if (Array.isArray(e)) return Buffer.concat([u16(e[0]), vec(2, e[1])]);
    let body: Buffer;
    switch (e) {
      case 0:
        body = vec(2, Buffer.concat([Buffer.from([0]), vec(2, Buffer.from(spec.sni ?? 'example.com'))]));
        break;
      case 16:
        body = vec(2, Buffer.concat((spec.alpn ?? ['h2']).map((p) => vec(1, Buffer.from(p, 'latin1')))));
        break;
      case 10:
        body = vec(2, list16(spec.groups ?? [0x1d, 0x17]));
        break;
      case 11:
        body = vec(1, Buffer.from(spec.pointFormats ?? [0]));
        break;
      case 13:
        body = vec(2, list16(spec.sigalgs ?? [0x0403]));
        break;
      case 43:
        body = vec(1, list16(spec.versions ?? [0x0304, 0x0303]));
        break;
      default:
        body = Buffer.alloc(0);
    }
    return Buffer.concat([u16(e), vec(2, body)]);
  };
  const body = Buffer.concat([
    u16(spec.version ?? 0x0303),
    Buffer.alloc(32, 7),
    vec(1, Buffer.alloc(32, 9)),
    vec(2, list16(spec.ciphers)),
    vec(1, Buffer.from([0])),
    vec(2, Buffer.concat(spec.extensions.map(ext))),
  ]);
  return Buffer.concat([Buffer.from([1]), vec(3, body)]);
}

/** A ServerHello handshake message. */
export function serverHello(cipher: number, extensions: Array<[number, Buffer]>, version = 0x0303): Buffer {
  const body = Buffer.concat([u16(version), Buffer.alloc(32, 5), vec(1, Buffer.alloc(0)), u16(cipher), Buffer.from([0]), vec(2, Buffer.concat(extensions.map(([t, b]) => Buffer.concat([u16(t), vec(2, b)]))))]);
  return Buffer.concat([Buffer.from([2]), vec(3, body)]);
}

/** Handshake bytes cut into TLS handshake records of the given payload sizes (the last one takes the rest). */
export function records(handshake: Buffer, sizes: number[] = []): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, Infinity]) {
    if (at >= handshake.length) break;
    const piece = handshake.subarray(at, Math.min(handshake.length, at + size));
    out.push(Buffer.from([22, 3, 1]), u16(piece.length), piece);
    at += piece.length;
  }
  return Buffer.concat(out);
}

