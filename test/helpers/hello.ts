/**
 * Builders for TLS hellos, TLS records and protected QUIC Initial packets,
 * for the sessions tests and the fuzz seeds. The QUIC side seals with the
 * keys of lib/sessions/quic.ts, and the tests check tshark opens what it
 * seals, so the two are checked against an independent reader.
 */
import { createCipheriv } from 'node:crypto';
import { initialKeys } from '../../lib/sessions/quic';

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

const varint = (v: number): Buffer => (v < 64 ? Buffer.from([v]) : v < 16384 ? u16(0x4000 | v) : Buffer.from([0x80 | (v >>> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]));

/** A CRYPTO frame. */
export function cryptoFrame(offset: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([6]), varint(offset), varint(data.length), data]);
}

/**
 * A protected QUIC v1 Initial packet (RFC 9001 5): `frames` padded to
 * `minSize` bytes of datagram, a 4-byte packet number, keys from `keyDcid`.
 */
export function sealInitial(options: { keyDcid: Buffer; dcid: Buffer; scid: Buffer; side: 'client' | 'server'; pn: number; frames: Buffer; minSize?: number }): Buffer {
  const keys = initialKeys(options.keyDcid, options.side);
  const headStart = Buffer.concat([Buffer.from([0xc3, 0, 0, 0, 1, options.dcid.length]), options.dcid, Buffer.from([options.scid.length]), options.scid, Buffer.from([0])]);
  let payload = options.frames;
  const fixed = headStart.length + 2 + 4 + 16;
  const min = options.minSize ?? 0;
  if (fixed + payload.length < min) payload = Buffer.concat([payload, Buffer.alloc(min - fixed - payload.length)]);
  const pnBytes = Buffer.alloc(4);
  pnBytes.writeUInt32BE(options.pn);
  const header = Buffer.concat([headStart, u16(0x4000 | (4 + payload.length + 16)), pnBytes]);
  const nonce = Buffer.from(keys.iv);
  for (let i = 0; i < 4; i++) nonce[11 - i] ^= pnBytes[3 - i];
  const gcm = createCipheriv('aes-128-gcm', keys.key, nonce);
  gcm.setAAD(header);
  const sealed = Buffer.concat([gcm.update(payload), gcm.final(), gcm.getAuthTag()]);
  const packet = Buffer.concat([header, sealed]);
  const pnOffset = header.length - 4;
  const mask = createCipheriv('aes-128-ecb', keys.hp, null).setAutoPadding(false).update(packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & 0x0f;
  for (let i = 0; i < 4; i++) packet[pnOffset + i] ^= mask[1 + i];
  return packet;
}
