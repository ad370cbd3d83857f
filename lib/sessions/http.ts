/**
 * HTTP/1.x over a reassembled TCP connection: requests in the client
 * direction, responses in the server direction, each fed chunk by chunk.
 * Responses pair with requests in order (pipelining, keep-alive). Bodies
 * are skipped by length (Content-Length, chunked, until close) and only
 * their first `bodyLimit` bytes are kept, when asked. Every buffer is
 * bounded; input that is not HTTP, or breaks a bound, ends the parsing of
 * that direction with a flagged record and the rest counted as given up.
 */
import { authorityOf, BLANK_LINE, bodyHeaders, chunkSize, chunkSizeText, CONTROL, isBlank, isName, requestLine, sniffHttp, statusLine } from './http-lines';
import type { Direction, ChunkInfo, HttpMessage, HttpRequest, HttpResponse, HttpTransaction, ParserContext, ParserDefinition, SessionParser } from './types';

export interface HttpOptions {
  /** Largest start line + header block, in bytes (default 65536). */
  maxHeaderBytes?: number;
  /** Most header fields in one message (default 256). */
  maxHeaders?: number;
  /** Most requests waiting for their response (default 64). */
  maxPending?: number;
  /** Body bytes kept per message, in `body` (default 0: none kept). */
  bodyLimit?: number;
}

const CHUNK_LINE_MAX = 1024;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'stopped';

/** One direction's message parser. */
class Side {
  state: State = 'head';
  head: Buffer[] = [];
  headLength = 0;
  /** Non-CR bytes on the current header line (0 at a line start). */
  lineBytes = 0;
  /** The last byte of an unfinished line was a CR. */
  lastCr = false;
  lines = 0;
  remaining = 0;
  message: (HttpRequest | HttpResponse) | null = null;
  bodyKept: Buffer[] = [];
  bodyKeptLength = 0;
  lastTime = 0n;

  /** After a chunk-size line: the chunk's data, or after the last chunk (size 0) its trailers. */
  startChunk(size: number): void {
    this.state = size === 0 ? 'trailers' : 'chunk-data';
    this.remaining = size;
    this.lines = 0;
    this.lineBytes = 0;
  }
}

interface Pending {
  tx: HttpTransaction;
  requestDone: boolean;
  responseDone: boolean;
}

class HttpParser implements SessionParser {
  private readonly client = new Side();
  private readonly server = new Side();
  private readonly pending: Pending[] = [];
  private readonly maxHeaderBytes: number;
  private readonly maxHeaders: number;
  private readonly maxPending: number;
  private readonly bodyLimit: number;
  /** After a 101 or a CONNECT tunnel: the rest is not HTTP. */
  private upgraded = false;

  constructor(private readonly context: ParserContext, options: HttpOptions) {
    this.maxHeaderBytes = options.maxHeaderBytes ?? 65536;
    this.maxHeaders = options.maxHeaders ?? 256;
    this.maxPending = options.maxPending ?? 64;
    this.bodyLimit = options.bodyLimit ?? 0;
  }

  data(direction: Direction, bytes: Buffer, info: ChunkInfo): void {
    const side = direction === 'client' ? this.client : this.server;
    side.lastTime = info.timestamp;
    // Most chunks fall inside a body being skipped: counted, nothing else.
    if ((side.state === 'length' || side.state === 'chunk-data') && bytes.length < side.remaining && side.bodyKeptLength >= this.bodyLimit) {
      side.remaining -= bytes.length;
      side.message!.bodyLength += bytes.length;
      return;
    }
    let at = 0;
    while (at < bytes.length) {
      if (side.state === 'stopped') {
        this.context.giveUp(bytes.length - at);
        return;
      }
      at = this.step(direction, side, bytes, at, info.timestamp);
    }
  }

  gap(direction: Direction, length: number, info: ChunkInfo): void {
    const side = direction === 'client' ? this.client : this.server;
    side.lastTime = info.timestamp;
    if (side.state === 'stopped') return this.context.giveUp(length);
    const message = side.message;
    // A hole inside a body of known length is crossed; anywhere else the framing is lost.
    if (message !== null && (side.state === 'length' || side.state === 'chunk-data') && length <= side.remaining) {
      side.remaining -= length;
      message.bodyLength += length;
      this.flag(direction, 'gap');
      if (side.state === 'length' && side.remaining === 0) this.finish(direction, side, info.timestamp);
      else if (side.state === 'chunk-data' && side.remaining === 0) side.state = 'chunk-end';
      return;
    }
    if (message !== null && side.state === 'close') {
      message.bodyLength += length;
      this.flag(direction, 'gap');
      return;
    }
    this.context.giveUp(length);
    this.stop(direction, side, 'gap', 0);
  }

  end(): void {
    for (const direction of ['client', 'server'] as const) {
      const side = direction === 'client' ? this.client : this.server;
      if (side.message !== null || side.headLength > 0) {
        if (side.state === 'close') this.finish(direction, side, side.lastTime);
        else this.stop(direction, side, 'truncated', 0);
      }
    }
    for (const p of this.pending.splice(0)) {
      if (p.tx.response === null && !p.tx.flags.includes('unanswered')) p.tx.flags.push('unanswered');
      if (p.tx.request === null && !p.tx.flags.includes('unpaired')) p.tx.flags.push('unpaired');
      this.context.emit(p.tx);
    }
  }

  /** Parses from `at`; returns where it stopped. */
  private step(direction: Direction, side: Side, bytes: Buffer, at: number, time: bigint): number {
    switch (side.state) {
      case 'head': {
        const whole = this.wholeHead(side, bytes, at);
        if (whole === null) return this.headBytes(direction, side, bytes, at, time);
        this.parseHead(direction, side, whole, time);
        return at + whole.length;
      }
      case 'trailers':
        // Usually no trailers: the empty line at once.
        if (side.headLength === 0 && side.lineBytes === 0 && at + 1 < bytes.length && bytes[at] === 0x0d && bytes[at + 1] === 0x0a) {
          this.finish(direction, side, time);
          return at + 2;
        }
        return this.headBytes(direction, side, bytes, at, time);
      case 'length':
      case 'chunk-data': {
        const take = Math.min(side.remaining, bytes.length - at);
        this.body(side, bytes, at, take);
        side.remaining -= take;
        if (side.remaining === 0) {
          if (side.state === 'length') this.finish(direction, side, time);
          else side.state = 'chunk-end';
        }
        return at + take;
      }
      case 'close':
        this.body(side, bytes, at, bytes.length - at);
        return bytes.length;
      case 'chunk-size':
      case 'chunk-end':
        return this.chunkLine(direction, side, bytes, at);
      default:
        return bytes.length;
    }
  }

  /** Collects a head (or a chunked body's trailers) up to its empty line, line by line, across chunks. */
  private headBytes(direction: Direction, side: Side, bytes: Buffer, at: number, time: bigint): number {
    let ended = false;
    let i = at;
    // Line by line (indexOf finds each LF); lineBytes counts the current line's bytes, a lone CR making a blank line too.
    while (i < bytes.length) {
      const lf = bytes.indexOf(0x0a, i);
      const stop = lf === -1 ? bytes.length : lf;
      if (side.lineBytes === 0 && stop > i && !this.lineStartOk(bytes[i], side)) {
        // Binary where a line should start: not HTTP.
        this.stop(direction, side, 'not-http', bytes.length - at);
        return bytes.length;
      }
      const length = side.lineBytes + (stop - i);
      if (lf === -1) {
        side.lineBytes = length;
        side.lastCr = bytes[bytes.length - 1] === 0x0d;
        i = bytes.length;
        break;
      }
      const blank = length === 0 || (length === 1 && (lf > i ? bytes[lf - 1] === 0x0d : side.lastCr));
      side.lineBytes = 0;
      i = lf + 1;
      if (!blank) {
        side.lines++;
      } else if (side.lines === 0 && side.state === 'head') {
        // Empty lines before a start line are allowed (RFC 9112 2.2): drop them.
        side.head = [];
        side.headLength = 0;
        at = i;
      } else {
        ended = true;
        break;
      }
    }
    side.headLength += i - at;
    if (side.headLength > this.maxHeaderBytes || side.lines > this.maxHeaders + 1) {
      this.context.giveUp(side.headLength);
      this.stop(direction, side, side.headLength > this.maxHeaderBytes ? 'header-too-large' : 'too-many-headers', bytes.length - i);
      return bytes.length;
    }
    if (!ended) {
      side.head.push(Buffer.from(bytes.subarray(at, i)));
      return i;
    }
    // Usually the whole head is in this chunk: read it in place.
    const text = side.head.length === 0 ? bytes.toString('latin1', at, i) : Buffer.concat([...side.head, bytes.subarray(at, i)]).toString('latin1');
    side.head = [];
    side.headLength = 0;
    side.lines = 0;
    side.lineBytes = 0;
    if (side.state === 'trailers') this.finish(direction, side, time);
    else if (CONTROL.test(text)) this.stop(direction, side, 'not-http', 0);
    else this.parseHead(direction, side, text, time);
    return i;
  }

  /**
   * The usual case, found with one search: a whole head at the start of
   * this chunk, its lines ending in CRLF, within every bound and with no
   * control byte. Its text, or null to go line by line (which also reports
   * what breaks a rule).
   */
  private wholeHead(side: Side, bytes: Buffer, at: number): string | null {
    if (side.headLength !== 0 || side.lineBytes !== 0 || side.lines !== 0) return null;
    const first = bytes[at];
    if (first <= 0x20 || first >= 0x7f) return null;
    const blank = bytes.indexOf(BLANK_LINE, at);
    if (blank === -1 || blank + 3 - at > this.maxHeaderBytes) return null;
    const text = bytes.toString('latin1', at, blank + 3);
    // An earlier blank line (lone LFs) or a control byte: line by line.
    if (text.includes('\n\n') || CONTROL.test(text)) return null;
    if (text.length > this.maxHeaders + 1) {
      let lines = 0;
      for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', lf + 1)) lines++;
      if (lines - 1 > this.maxHeaders + 1) return null;
    }
    return text;
  }

  /** Can this byte start a line of a head? (A start line is ASCII; control bytes start nothing but CR and LF.) */
  private lineStartOk(c: number, side: Side): boolean {
    if (c === 0x0d || c === 0x09) return true;
    if (c < 0x20 || c === 0x7f) return false;
    return side.lines > 0 || c < 0x80;
  }

  /** A whole head's text, with no control byte. */
  private parseHead(direction: Direction, side: Side, text: string, time: bigint): void {
    const headers: Array<[string, string]> = [];
    let end = text.indexOf('\n');
    const start = text.slice(0, end > 0 && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end);
    let host: string | null = null;
    for (let at = end + 1; at < text.length; at = end + 1) {
      end = text.indexOf('\n', at);
      if (end === -1) end = text.length;
      // The line is text[at, stop): sliced into name and value in place, no string for the line itself.
      const stop = end > at && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end;
      if (stop === at) continue;
      const colon = text.indexOf(':', at);
      if (colon <= at || colon >= stop) return this.stop(direction, side, 'bad-header', 0);
      // The value without the whitespace String.prototype.trim would remove (no string made for the untrimmed value).
      let from = colon + 1;
      let to = stop;
      while (from < to && isBlank(text.charCodeAt(from))) from++;
      while (to > from && isBlank(text.charCodeAt(to - 1))) to--;
      const name = text.slice(at, colon);
      const value = text.slice(from, to);
      headers.push([name, value]);
      if (host === null && isName(name, 'host')) host = value;
    }
    let message: HttpRequest | HttpResponse;
    if (direction === 'client') {
      const m = requestLine(start);
      if (m === null) return this.stop(direction, side, 'bad-start-line', 0);
      message = { method: m.method, uri: m.uri, host: host ?? authorityOf(m.uri), version: m.version, headers, headerBytes: text.length, bodyMode: 'none', bodyLength: 0, contentLength: null, start: time, end: time, complete: false };
    } else {
      const m = statusLine(start);
      if (m === null) return this.stop(direction, side, 'bad-start-line', 0);
      message = { status: m.status, reason: m.reason, version: m.version, headers, headerBytes: text.length, bodyMode: 'none', bodyLength: 0, contentLength: null, start: time, end: time, complete: false };
    }
    side.message = message;
    const framing = this.framing(direction, message);
    if (framing === 'bad') return this.stop(direction, side, 'bad-content-length', 0);
    if (direction === 'server') {
      const status = (message as HttpResponse).status;
      if (status >= 100 && status < 200 && status !== 101) {
        // Interim response: not the one the request waits for.
        side.message = null;
        return;
      }
    }
    // The n-th request pairs with the n-th response, whichever direction's bytes came first.
    const open = this.waiting(direction);
    if (open !== undefined) {
      if (direction === 'client') open.tx.request = message as HttpRequest;
      else open.tx.response = message as HttpResponse;
    } else {
      if (this.pending.length >= this.maxPending) {
        const old = this.pending.shift()!;
        old.tx.flags.push(old.tx.response === null ? 'unanswered' : 'unpaired', 'too-many-pending');
        this.context.emit(old.tx);
      }
      const tx: HttpTransaction = { kind: 'http', flow: this.context.flow, flags: [], request: direction === 'client' ? (message as HttpRequest) : null, response: direction === 'server' ? (message as HttpResponse) : null };
      this.pending.push({ tx, requestDone: false, responseDone: false });
    }
    message.bodyMode = framing.mode;
    if (framing.mode === 'length' && framing.length > 0) {
      side.state = 'length';
      side.remaining = framing.length;
    } else if (framing.mode === 'chunked') {
      side.state = 'chunk-size';
    } else if (framing.mode === 'close') {
      side.state = 'close';
    } else {
      this.finish(direction, side, time);
    }
  }

  /** How the body of this message is delimited (RFC 9112 6.3). */
  private framing(direction: Direction, message: HttpRequest | HttpResponse): { mode: 'none' | 'length' | 'chunked' | 'close'; length: number } | 'bad' {
    const declared = bodyHeaders(message.headers);
    if (declared === 'bad') return 'bad';
    const { chunked, length } = declared;
    message.contentLength = length;
    if (direction === 'server') {
      const status = (message as HttpResponse).status;
      const request = this.waiting('server')?.tx.request;
      if (status === 101 || (request?.method === 'CONNECT' && status >= 200 && status < 300)) {
        this.upgraded = true;
        return { mode: 'none', length: 0 };
      }
      if (request?.method === 'HEAD' || status === 204 || status === 304) return { mode: 'none', length: 0 };
    }
    if (chunked) return { mode: 'chunked', length: 0 };
    if (length !== null) return { mode: 'length', length };
    return direction === 'server' ? { mode: 'close', length: 0 } : { mode: 'none', length: 0 };
  }

  /** A chunk-size line, or the CRLF after a chunk's data. */
  private chunkLine(direction: Direction, side: Side, bytes: Buffer, at: number): number {
    if (side.head.length === 0) {
      // The usual case, read in place: the CRLF after a chunk, or "<hex>\r\n" whole in this chunk.
      if (side.state === 'chunk-end') {
        if (at + 1 < bytes.length && bytes[at] === 0x0d && bytes[at + 1] === 0x0a) {
          side.state = 'chunk-size';
          return at + 2;
        }
      } else {
        const line = chunkSize(bytes, at);
        if (line !== null) {
          side.startChunk(line.size);
          return line.end;
        }
      }
    }
    return this.chunkLineText(direction, side, bytes, at);
  }

  /** A chunk line read as text (split across chunks, with an extension, the last chunk, or broken). */
  private chunkLineText(direction: Direction, side: Side, bytes: Buffer, at: number): number {
    const lf = bytes.indexOf(0x0a, at);
    const end = lf === -1 ? bytes.length : lf + 1;
    side.headLength += end - at;
    if (side.headLength > CHUNK_LINE_MAX) {
      this.stop(direction, side, 'bad-chunk', bytes.length - at);
      return bytes.length;
    }
    if (lf === -1) {
      side.head.push(Buffer.from(bytes.subarray(at, end)));
      return end;
    }
    const raw = side.head.length === 0 ? bytes.toString('latin1', at, end) : Buffer.concat([...side.head, bytes.subarray(at, end)]).toString('latin1');
    const line = raw.endsWith('\r\n') ? raw.slice(0, -2) : raw.slice(0, -1);
    side.head = [];
    side.headLength = 0;
    if (side.state === 'chunk-end') {
      if (line !== '') {
        this.stop(direction, side, 'bad-chunk', bytes.length - end);
        return bytes.length;
      }
      side.state = 'chunk-size';
      return end;
    }
    const size = chunkSizeText(line);
    if (size === null) {
      this.stop(direction, side, 'bad-chunk', bytes.length - end);
      return bytes.length;
    }
    side.startChunk(size);
    return end;
  }

  private body(side: Side, bytes: Buffer, at: number, length: number): void {
    const message = side.message!;
    message.bodyLength += length;
    if (side.bodyKeptLength < this.bodyLimit) {
      const keep = Math.min(length, this.bodyLimit - side.bodyKeptLength);
      side.bodyKept.push(Buffer.from(bytes.subarray(at, at + keep)));
      side.bodyKeptLength += keep;
    }
  }

  /** The message in this direction is complete. */
  private finish(direction: Direction, side: Side, time: bigint): void {
    const message = side.message;
    side.message = null;
    side.state = this.upgraded ? 'stopped' : 'head';
    side.lines = 0;
    side.lineBytes = 0;
    side.head = [];
    side.headLength = 0;
    if (message === null) return;
    message.end = time;
    message.complete = true;
    if (this.bodyLimit > 0 && message.bodyMode !== 'none') message.body = Buffer.concat(side.bodyKept);
    side.bodyKept = [];
    side.bodyKeptLength = 0;
    const p = this.holding(message);
    if (p !== undefined) {
      if (direction === 'client') p.requestDone = true;
      else p.responseDone = true;
    }
    if (this.upgraded && direction === 'server') {
      this.client.state = 'stopped';
      if (p !== undefined) p.requestDone = true;
    }
    this.flush();
  }

  /** The first transaction still waiting for a message from this direction. */
  private waiting(direction: Direction): Pending | undefined {
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) if ((direction === 'client' ? pending[i].tx.request : pending[i].tx.response) === null) return pending[i];
    return undefined;
  }

  /** The transaction holding this message. */
  private holding(message: HttpRequest | HttpResponse | null): Pending | undefined {
    if (message === null) return undefined;
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) if (pending[i].tx.request === message || pending[i].tx.response === message) return pending[i];
    return undefined;
  }

  /** Emits the transactions at the head of the queue that are done both ways. */
  private flush(): void {
    while (this.pending.length > 0 && this.pending[0].requestDone && this.pending[0].responseDone) {
      this.context.emit(this.pending.shift()!.tx);
    }
  }

  private flag(direction: Direction, flag: string): void {
    const side = direction === 'client' ? this.client : this.server;
    const p = this.holding(side.message);
    if (p !== undefined && !p.tx.flags.includes(flag)) p.tx.flags.push(flag);
  }

  /** Stops parsing this direction: flags the message in progress (or a new record), counts `rest` bytes as given up. */
  private stop(direction: Direction, side: Side, flag: string, rest: number): void {
    this.context.giveUp(rest);
    const message = side.message;
    const p = this.holding(message);
    if (p !== undefined) {
      if (!p.tx.flags.includes(flag)) p.tx.flags.push(flag);
      if (direction === 'client') p.requestDone = true;
      else p.responseDone = true;
      if (message !== null) message.end = side.lastTime;
      this.flush();
    } else {
      this.context.emit({ kind: 'http', flow: this.context.flow, flags: [flag, direction === 'client' ? 'in-request' : 'in-response'], request: null, response: null });
    }
    side.message = null;
    side.state = 'stopped';
    side.head = [];
    side.headLength = 0;
    side.bodyKept = [];
  }
}

/** The built-in HTTP/1.x parser's definition, with its options. */
export function httpParser(options: HttpOptions = {}): ParserDefinition {
  return { name: 'http', transport: 'tcp', sniff: sniffHttp, create: (context) => new HttpParser(context, options) };
}

export type { HttpMessage };
