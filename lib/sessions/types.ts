/**
 * The records the sessions layer yields, and the interface every parser
 * (built-in or the user's) implements. A parser sees one connection (TCP)
 * or one UDP flow; it is created by its definition when the registry picks
 * it for that flow, and it emits records through its context.
 */

import type { DatagramInfo, Direction, FlowKey } from '../flows/types';

export type { Direction };

/** Where a chunk sits: its byte offset in that direction's stream and its packet's time (ns since the epoch). */
export interface ChunkInfo {
  offset: number;
  timestamp: bigint;
}

/** The flow a record belongs to: the flow layer's id and key (the client is src). */
export interface SessionFlow {
  /** The flow tracker's id of this flow. */
  id: number;
  key: FlowKey;
}

/** A parser for one connection or UDP flow. Buffers passed in are valid only during the call. */
export interface SessionParser {
  /** In-order stream bytes of one direction (TCP). */
  data?(direction: Direction, bytes: Buffer, info: ChunkInfo): void;
  /** A hole of `length` bytes in one direction: the bytes around it are not contiguous. */
  gap?(direction: Direction, length: number, info: ChunkInfo): void;
  /** One UDP payload. */
  datagram?(direction: Direction, bytes: Buffer, info: DatagramInfo): void;
  /** The flow ended (close, idle, eviction, end of source): emit what is still pending. */
  end?(reason: string, timestamp: bigint): void;
}

export interface ParserContext {
  flow: SessionFlow;
  /** Hands a record to the user (records must not hold the buffers passed to the parser). */
  emit(record: SessionRecord): void;
  /** Counts bytes the parser gave up on (junk, over a bound, after a gap it cannot cross). */
  giveUp(bytes: number): void;
  /** The parser needs nothing more from this flow: no further calls are made to it. */
  done(): void;
}

/**
 * A protocol parser the registry can attach to flows: chosen by `ports`
 * (either end's port), by `sniff` on the first bytes, or by both when both
 * are given. `sniff` returns true (mine), false (not mine) or null (show
 * me more bytes).
 */
export interface ParserDefinition {
  name: string;
  transport: 'tcp' | 'udp';
  ports?: readonly number[];
  sniff?(direction: Direction, firstBytes: Buffer): boolean | null;
  create(context: ParserContext): SessionParser;
}

/** Common to every record: the parser that made it, its flow, and anything odd seen. */
export interface RecordBase {
  flow: SessionFlow;
  /** Anomalies, e.g. 'header-too-large', 'bad-chunk', 'gap', 'truncated', 'not-tls'. Empty when all was well. */
  flags: string[];
}

export type HttpBodyMode = 'none' | 'length' | 'chunked' | 'close';

export interface HttpMessage {
  version: string;
  /** Header fields in order, names as sent. */
  headers: Array<[string, string]>;
  /** Bytes of the start line and header block. */
  headerBytes: number;
  bodyMode: HttpBodyMode;
  /** Body bytes seen (after de-chunking). */
  bodyLength: number;
  /** The Content-Length header's value, or null. */
  contentLength: number | null;
  /** The first bodyLimit bytes of the body, when the parser was asked to keep them. */
  body?: Buffer;
  /** When the first and the last byte of the message were seen. */
  start: bigint;
  end: bigint;
  /** The message was complete (false when the stream ended or broke inside it). */
  complete: boolean;
}

export interface HttpRequest extends HttpMessage {
  method: string;
  uri: string;
  /** The Host header, or the authority of an absolute URI, or null. */
  host: string | null;
}

export interface HttpResponse extends HttpMessage {
  status: number;
  reason: string;
}

/** One request paired with its response (either may be missing, and the flags say why). */
export interface HttpTransaction extends RecordBase {
  kind: 'http';
  request: HttpRequest | null;
  response: HttpResponse | null;
}

export interface ClientHello {
  /** legacy_version of the hello (e.g. 0x0303). */
  legacyVersion: number;
  /** The supported_versions extension's list, GREASE included, or []. */
  supportedVersions: number[];
  cipherSuites: number[];
  /** Extension types in the order sent. */
  extensions: number[];
  sni: string | null;
  alpn: string[];
  supportedGroups: number[];
  ecPointFormats: number[];
  signatureAlgorithms: number[];
  /** How many GREASE values (RFC 8701) were seen in all the lists. */
  grease: number;
}

export interface ServerHello {
  legacyVersion: number;
  /** The version chosen: supported_versions when present, else legacy_version. */
  version: number;
  cipherSuite: number;
  extensions: number[];
  alpn: string | null;
}

export interface Fingerprints {
  ja3: string | null;
  ja3Full: string | null;
  ja4: string | null;
  ja4r: string | null;
  ja4s: string | null;
}

/** A TLS handshake over TCP, or the TLS inside QUIC Initial packets. */
export interface HandshakeRecord extends RecordBase, Fingerprints {
  kind: 'tls' | 'quic';
  client: ClientHello | null;
  server: ServerHello | null;
  /** Shortcuts: the client's SNI and ALPN list, the server's chosen ALPN. */
  sni: string | null;
  alpn: string[];
  /** When the ClientHello and the ServerHello ended (null when not seen). */
  clientTime: bigint | null;
  serverTime: bigint | null;
  /** QUIC only: version and the client's first destination connection id (hex). */
  quic?: { version: number; dcid: string };
}

export type SessionRecord = HttpTransaction | HandshakeRecord | CustomRecord;

/** What a user's parser emits: anything with a `kind` of its own. */
export interface CustomRecord extends RecordBase {
  kind: string;
  [field: string]: unknown;
}
