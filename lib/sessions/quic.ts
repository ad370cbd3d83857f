/**
 * QUIC v1 Initial packets (RFC 9000 17.2.2, RFC 9001 5): the keys come
 * from the client's first Destination Connection ID, header protection is
 * removed with AES-128-ECB, the payload opened with AES-128-GCM (all with
 * node:crypto), and the CRYPTO frames of several Initial packets are put
 * back in order until the ClientHello (and the ServerHello) is whole. The
 * hellos then go through the same parser and fingerprints as TLS over TCP,
 * JA4 with its `q`.
 */
import { nodeCrypto } from '../core/crypto';
import { parseClientHello, parseServerHello } from './hello';
import { handshakeRecord } from './handshake';
import { MAX_HELLO_BYTES } from './tls';
import type { DatagramInfo } from '../flows/types';
import type { ClientHello, Direction, ParserContext, ParserDefinition, ServerHello, SessionParser } from './types';

export const QUIC_V1 = 0x00000001;
const V1_SALT = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
/** CRYPTO pieces kept per direction before the hello is whole. */
const MAX_PIECES = 64;

export interface InitialKeys {
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
}

/** HKDF-Expand-Label (RFC 8446 7.1) for outputs of at most one SHA-256 block. */
function expandLabel(secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([0])]);
  return nodeCrypto().createHmac('sha256', secret)
    .update(Buffer.concat([info, Buffer.from([1])]))
    .digest()
    .subarray(0, length);
}

/** The Initial keys of one side, from the client's first Destination Connection ID (RFC 9001 5.2). */
export function initialKeys(dcid: Buffer, side: Direction): InitialKeys {
  const initial = nodeCrypto().createHmac('sha256', V1_SALT).update(dcid).digest();
  const secret = expandLabel(initial, side === 'client' ? 'client in' : 'server in', 32);
  return { key: expandLabel(secret, 'quic key', 16), iv: expandLabel(secret, 'quic iv', 12), hp: expandLabel(secret, 'quic hp', 16) };
}

/** A variable-length integer (RFC 9000 16) at `at`, or null past the end. Values above 2^53 come out inexact, which no length here can use. */
export function varint(b: Buffer, at: number): { value: number; next: number } | null {
  if (at >= b.length) return null;
  const size = 1 << (b[at] >> 6);
  if (at + size > b.length) return null;
  let value = b[at] & 0x3f;
  for (let i = 1; i < size; i++) value = value * 256 + b[at + i];
  return { value, next: at + size };
}

export interface LongHeader {
  type: number;
  version: number;
  dcid: Buffer;
  scid: Buffer;
  /** Where the (protected) packet number starts, and where the packet ends. */
  pnOffset: number;
  end: number;
}

/** The long header at `at` of a datagram, or null when it is not one (or is cut). */
export function longHeader(b: Buffer, at: number): LongHeader | null {
  if (at + 7 > b.length || (b[at] & 0x80) === 0) return null;
  const version = b.readUInt32BE(at + 1);
  let p = at + 5;
  const dl = b[p++];
  if (dl > 20 || p + dl + 1 > b.length) return null;
  const dcid = b.subarray(p, p + dl);
  p += dl;
  const sl = b[p++];
  if (sl > 20 || p + sl > b.length) return null;
  const scid = b.subarray(p, p + sl);
  p += sl;
  const type = (b[at] >> 4) & 3;
  if (version === 0 || type === 3) return { type, version, dcid, scid, pnOffset: p, end: b.length };
  if (type === 0) {
    const token = varint(b, p);
    if (token === null || token.next + token.value > b.length) return null;
    p = token.next + token.value;
  }
  const length = varint(b, p);
  if (length === null || length.next + length.value > b.length) return null;
  return { type, version, dcid, scid, pnOffset: length.next, end: length.next + length.value };
}

/** Removes header protection and opens an Initial packet; null when it does not authenticate. */
export function openInitial(b: Buffer, at: number, h: LongHeader, keys: InitialKeys): { pn: number; payload: Buffer } | null {
  if (h.pnOffset + 4 + 16 > h.end || h.end - h.pnOffset < 4 + 16) return null;
  const ecb = nodeCrypto().createCipheriv('aes-128-ecb', keys.hp, null).setAutoPadding(false);
  const mask = ecb.update(b.subarray(h.pnOffset + 4, h.pnOffset + 20));
  const first = b[at] ^ (mask[0] & 0x0f);
  const pnLength = (first & 3) + 1;
  const header = Buffer.from(b.subarray(at, h.pnOffset + pnLength));
  header[0] = first;
  let pn = 0;
  for (let i = 0; i < pnLength; i++) {
    header[h.pnOffset - at + i] ^= mask[1 + i];
    pn = pn * 256 + header[h.pnOffset - at + i];
  }
  const nonce = Buffer.from(keys.iv);
  for (let i = 0, v = pn; i < 4; i++, v = Math.floor(v / 256)) nonce[11 - i] ^= v & 0xff;
  const body = b.subarray(h.pnOffset + pnLength, h.end - 16);
  try {
    const gcm = nodeCrypto().createDecipheriv('aes-128-gcm', keys.key, nonce);
    gcm.setAAD(header);
    gcm.setAuthTag(b.subarray(h.end - 16, h.end));
    return { pn, payload: Buffer.concat([gcm.update(body), gcm.final()]) };
  } catch {
    return null; // not authentic: wrong keys or altered bytes
  }
}

/** The CRYPTO frames of a decrypted Initial payload; null when a frame is malformed or not allowed there. */
export function cryptoFrames(payload: Buffer): Array<{ offset: number; data: Buffer }> | null {
  const out: Array<{ offset: number; data: Buffer }> = [];
  let p = 0;
  const skip = (n: number): boolean => {
    for (let i = 0; i < n; i++) {
      const v = varint(payload, p);
      if (v === null) return false;
      p = v.next;
    }
    return true;
  };
  while (p < payload.length) {
    const type = payload[p++];
    if (type === 0x00 || type === 0x01) continue; // PADDING, PING
    if (type === 0x02 || type === 0x03) {
      // ACK: largest, delay, range count, first range, ranges, [ECN counts]
      if (!skip(2)) return null;
      const count = varint(payload, p);
      if (count === null || count.value > payload.length) return null;
      p = count.next;
      if (!skip(1 + 2 * count.value + (type === 0x03 ? 3 : 0))) return null;
    } else if (type === 0x06) {
      const offset = varint(payload, p);
      const length = offset === null ? null : varint(payload, offset.next);
      if (offset === null || length === null || length.next + length.value > payload.length) return null;
      out.push({ offset: offset.value, data: payload.subarray(length.next, length.next + length.value) });
      p = length.next + length.value;
    } else if (type === 0x1c || type === 0x1d) {
      if (!skip(type === 0x1c ? 2 : 1)) return null;
      const reason = varint(payload, p);
      if (reason === null || reason.next + reason.value > payload.length) return null;
      p = reason.next + reason.value;
    } else {
      return null;
    }
  }
  return out;
}

/** Does this datagram start with a QUIC v1 Initial packet? */
export function sniffQuic(_direction: Direction, bytes: Buffer): boolean {
  if (bytes.length < 7 || (bytes[0] & 0xf0) !== 0xc0) return false;
  const h = longHeader(bytes, 0);
  return h !== null && h.version === QUIC_V1 && h.type === 0;
}

/** One direction's CRYPTO stream, in pieces until its first handshake message is whole. */
class CryptoStream {
  pieces: Array<{ offset: number; data: Buffer }> = [];
  done = false;

  /** Adds a piece (copied); returns the first handshake message once whole, or a flag. */
  add(offset: number, data: Buffer): { type: number; body: Buffer } | string | null {
    if (offset + data.length > MAX_HELLO_BYTES + 4) return 'hello-too-large';
    if (this.pieces.length >= MAX_PIECES) return 'too-many-crypto-frames';
    this.pieces.push({ offset, data: Buffer.from(data) });
    this.pieces.sort((a, b) => a.offset - b.offset);
    let have = 0;
    for (const piece of this.pieces) {
      if (piece.offset > have) break;
      have = Math.max(have, piece.offset + piece.data.length);
    }
    if (have < 4) return null;
    const all = Buffer.alloc(have);
    for (const piece of this.pieces) if (piece.offset < have) piece.data.copy(all, piece.offset, 0, Math.min(piece.data.length, have - piece.offset));
    const size = all.readUIntBE(1, 3);
    if (size > MAX_HELLO_BYTES) return 'hello-too-large';
    if (have < 4 + size) return null;
    this.pieces = [];
    return { type: all[0], body: all.subarray(4, 4 + size) };
  }
}

class QuicParser implements SessionParser {
  private dcid: Buffer | null = null;
  private version = 0;
  private keys: { client: InitialKeys; server: InitialKeys } | null = null;
  private streams = { client: new CryptoStream(), server: new CryptoStream() };
  private client: ClientHello | null = null;
  private server: ServerHello | null = null;
  private clientTime: bigint | null = null;
  private serverTime: bigint | null = null;
  private flags: string[] = [];
  private emitted = false;

  constructor(private readonly context: ParserContext) {}

  datagram(direction: Direction, bytes: Buffer, info: DatagramInfo): void {
    let at = 0;
    // Coalesced packets: each long header says where it ends.
    while (at < bytes.length) {
      const h = longHeader(bytes, at);
      if (h === null) break;
      if (h.version !== QUIC_V1) {
        if (h.version !== 0) this.flag('unsupported-version');
        break;
      }
      if (h.type === 0) this.initial(direction, bytes, at, h, info.timestamp);
      if (h.type === 3) break;
      at = h.end;
    }
    // Not detached once both hellos are in: a later client Initial may start a new connection on this flow.
    if (this.streams.client.done && this.streams.server.done) this.emit();
  }

  end(): void {
    if (this.dcid !== null || this.flags.length > 0) this.emit();
  }

  private initial(direction: Direction, b: Buffer, at: number, h: LongHeader, time: bigint): void {
    if (this.keys === null) {
      if (direction !== 'client') return this.flag('server-initial-first');
      this.dcid = Buffer.from(h.dcid);
      this.version = h.version;
      this.keys = { client: initialKeys(this.dcid, 'client'), server: initialKeys(this.dcid, 'server') };
    }
    if (direction === 'client' && !h.dcid.equals(this.dcid!) && openInitial(b, at, h, initialKeys(h.dcid, 'client')) !== null) {
      // A client Initial under keys of its own DCID: a new connection on the same addresses and ports.
      this.restart(h.dcid);
    }
    const stream = this.streams[direction];
    if (stream.done) return;
    const opened = openInitial(b, at, h, this.keys[direction]);
    if (opened === null) return this.flag('decrypt-failed');
    const frames = cryptoFrames(opened.payload);
    if (frames === null) return this.flag('bad-frame');
    for (const frame of frames) {
      const message = stream.add(frame.offset, frame.data);
      if (message === null) continue;
      stream.done = true;
      if (typeof message === 'string') return this.flag(message);
      if (direction === 'client') {
        this.client = message.type === 1 ? parseClientHello(message.body) : null;
        this.clientTime = time;
        if (this.client === null) this.flag('bad-client-hello');
      } else {
        this.server = message.type === 2 ? parseServerHello(message.body) : null;
        this.serverTime = time;
        if (this.server === null) this.flag('bad-server-hello');
      }
      return;
    }
  }

  /** Emits what the previous connection gave and starts over with new keys. */
  private restart(dcid: Buffer): void {
    this.emit();
    this.emitted = false;
    this.client = this.server = null;
    this.clientTime = this.serverTime = null;
    this.flags = [];
    this.streams = { client: new CryptoStream(), server: new CryptoStream() };
    this.dcid = Buffer.from(dcid);
    this.keys = { client: initialKeys(this.dcid, 'client'), server: initialKeys(this.dcid, 'server') };
  }

  private flag(flag: string): void {
    if (!this.flags.includes(flag)) this.flags.push(flag);
  }

  private emit(): void {
    if (this.emitted) return;
    this.emitted = true;
    const record = handshakeRecord('quic', this.context, this.client, this.server, this.clientTime, this.serverTime, this.flags);
    if (this.dcid !== null) record.quic = { version: this.version, dcid: this.dcid.toString('hex') };
    this.context.emit(record);
  }
}

/** The built-in QUIC Initial parser's definition. */
export function quicParser(): ParserDefinition {
  return { name: 'quic', transport: 'udp', sniff: sniffQuic, create: (context) => new QuicParser(context) };
}
