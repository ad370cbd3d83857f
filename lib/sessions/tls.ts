/**
 * TLS over TCP: the record layer of each direction is followed until its
 * first handshake message (ClientHello from the client, ServerHello from
 * the server) is whole, across any split into records and segments. Then
 * the connection is left alone: one record per connection, with JA3, JA4
 * and JA4S.
 */
import { handshakeRecord } from './handshake';
import { parseClientHello, parseServerHello } from './hello';
import type { ChunkInfo, ClientHello, Direction, ParserContext, ParserDefinition, ServerHello, SessionParser } from './types';

/** Largest hello accepted (RFC 8446 allows 2^24 - 1; real ones are a few KB). */
export const MAX_HELLO_BYTES = 65536;
/** Largest TLS record: 2^14 plus the 2048 bytes of expansion TLS 1.2 allows. */
const MAX_RECORD = 16384 + 2048;

/** Handshake messages from a byte stream (TLS records' payloads or QUIC CRYPTO data), bounded. */
export class HandshakeReader {
  private parts: Buffer[] = [];
  private length = 0;
  /** 'too-large' once a message claims more than the bound. */
  failed: string | null = null;

  /**
   * Adds bytes[start, end) (copied when kept); returns the first whole
   * message once there is one, as its type and where its body lies
   * (valid during the call that gave the bytes).
   */
  push(bytes: Buffer, start = 0, end = bytes.length): { type: number; body: Buffer; start: number; end: number } | null {
    if (this.failed !== null) return null;
    if (this.length === 0 && end - start >= 4) {
      // Usually the whole message is in one piece: no copy, no view.
      const size = (bytes[start + 1] << 16) | (bytes[start + 2] << 8) | bytes[start + 3];
      if (size <= MAX_HELLO_BYTES && end - start >= 4 + size) return { type: bytes[start], body: bytes, start: start + 4, end: start + 4 + size };
    }
    this.parts.push(Buffer.from(bytes.subarray(start, end)));
    this.length += end - start;
    if (this.length < 4) return null;
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [all];
    const size = (all[1] << 16) | (all[2] << 8) | all[3];
    if (size > MAX_HELLO_BYTES) {
      this.failed = 'hello-too-large';
      this.parts = [];
      return null;
    }
    if (all.length < 4 + size) return null;
    this.parts = [];
    return { type: all[0], body: all, start: 4, end: 4 + size };
  }

  get buffered(): number {
    return this.length;
  }
}

/** Is this the start of a TLS handshake record? */
export function sniffTls(_direction: Direction, bytes: Buffer): boolean | null {
  if (bytes.length < 3) return bytes.length === 0 || (bytes[0] === 0x16 && (bytes.length < 2 || bytes[1] === 0x03)) ? null : false;
  return bytes[0] === 0x16 && bytes[1] === 0x03 && bytes[2] <= 0x04;
}

class Side {
  /** The record header's bytes seen so far (5 in all): type, version major, length. */
  headerHave = 0;
  major = 0;
  type = 0;
  remaining = 0;
  reader = new HandshakeReader();
  done = false;
}

class TlsParser implements SessionParser {
  private readonly sides = { client: new Side(), server: new Side() };
  private client: ClientHello | null = null;
  private server: ServerHello | null = null;
  private clientTime: bigint | null = null;
  private serverTime: bigint | null = null;
  private readonly flags: string[] = [];
  private emitted = false;

  constructor(private readonly context: ParserContext) {}

  data(direction: Direction, bytes: Buffer, info: ChunkInfo): void {
    const side = this.sides[direction];
    let at = 0;
    while (at < bytes.length && !side.done) {
      if (side.headerHave < 5) {
        const b = bytes[at++];
        if (side.headerHave === 0) side.type = b;
        else if (side.headerHave === 1) side.major = b;
        else if (side.headerHave === 3) side.remaining = b << 8;
        else if (side.headerHave === 4) side.remaining |= b;
        if (++side.headerHave < 5) continue;
        if (side.type < 20 || side.type > 24 || side.major !== 3 || side.remaining > MAX_RECORD) {
          this.fail(direction, 'not-tls', bytes.length - at);
          return;
        }
        continue;
      }
      const take = Math.min(side.remaining, bytes.length - at);
      if (side.type === 22) this.handshake(direction, bytes, at, at + take, info.timestamp);
      else if (side.type === 21) this.flag('alert');
      side.remaining -= take;
      at += take;
      if (side.remaining === 0) side.headerHave = 0;
    }
    this.maybeEmit();
  }

  gap(direction: Direction, length: number): void {
    const side = this.sides[direction];
    if (side.done) return;
    this.context.giveUp(length);
    this.fail(direction, 'gap', 0);
  }

  end(): void {
    this.emit();
  }

  private handshake(direction: Direction, bytes: Buffer, start: number, end: number, time: bigint): void {
    const side = this.sides[direction];
    const message = side.reader.push(bytes, start, end);
    if (side.reader.failed !== null) return this.fail(direction, side.reader.failed, 0);
    if (message === null) return;
    side.done = true;
    if (direction === 'client') {
      this.client = message.type === 1 ? parseClientHello(message.body, message.start, message.end) : null;
      this.clientTime = time;
      if (this.client === null) this.flag(message.type === 1 ? 'bad-client-hello' : 'no-client-hello');
    } else {
      this.server = message.type === 2 ? parseServerHello(message.body, message.start, message.end) : null;
      this.serverTime = time;
      if (this.server === null) this.flag(message.type === 2 ? 'bad-server-hello' : 'no-server-hello');
    }
  }

  private fail(direction: Direction, flag: string, rest: number): void {
    this.sides[direction].done = true;
    this.context.giveUp(rest);
    this.flag(flag);
  }

  private flag(flag: string): void {
    if (!this.flags.includes(flag)) this.flags.push(flag);
  }

  private maybeEmit(): void {
    if (this.sides.client.done && this.sides.server.done) {
      this.emit();
      this.context.done();
    }
  }

  private emit(): void {
    if (this.emitted) return;
    this.emitted = true;
    this.context.emit(handshakeRecord('tls', this.context, this.client, this.server, this.clientTime, this.serverTime, this.flags));
  }
}

/** The built-in TLS parser's definition. */
export function tlsParser(): ParserDefinition {
  return { name: 'tls', transport: 'tcp', sniff: sniffTls, create: (context) => new TlsParser(context) };
}
