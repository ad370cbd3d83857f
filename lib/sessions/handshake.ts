/**
 * The handshake record TLS and QUIC emit. Its fingerprints (JA3, JA4, JA4S:
 * strings, sorting and digests, most of a handshake's cost) are computed
 * on first read, so a user who never looks at them does not pay for them.
 * They are own enumerable accessors: JSON.stringify, Object.keys, spread,
 * structuredClone, util.inspect and jest's toEqual see the same fields and
 * values as in a plain object, in the same order.
 */
import { fingerprints } from './fingerprints';
import type { ClientHello, Fingerprints, HandshakeRecord, ParserContext, ServerHello, SessionFlow } from './types';

const NAMES = ['ja3', 'ja3Full', 'ja4', 'ja4r', 'ja4s'] as const;

class Handshake {
  kind: 'tls' | 'quic';
  flow: SessionFlow;
  flags: string[];
  client: ClientHello | null;
  server: ServerHello | null;
  sni: string | null;
  alpn: string[];
  clientTime: bigint | null;
  serverTime: bigint | null;
  declare quic?: { version: number; dcid: string };
  /** The hellos the fingerprints are computed from (as parsed, whatever is later assigned to client/server). */
  readonly #hellos: { client: ClientHello | null; server: ServerHello | null };
  #prints: Fingerprints | null = null;

  constructor(kind: 'tls' | 'quic', flow: SessionFlow, client: ClientHello | null, server: ServerHello | null, clientTime: bigint | null, serverTime: bigint | null, flags: string[]) {
    this.kind = kind;
    this.flow = flow;
    this.flags = flags;
    this.client = client;
    this.server = server;
    this.sni = client?.sni ?? null;
    this.alpn = client?.alpn ?? [];
    this.clientTime = clientTime;
    this.serverTime = serverTime;
    this.#hellos = { client, server };
    for (let i = 0; i < NAMES.length; i++) Object.defineProperty(this, NAMES[i], LAZY[i]);
  }

  static fingerprint(record: Handshake, name: keyof Fingerprints): string | null {
    const { client, server } = record.#hellos;
    record.#prints ??= fingerprints(client, server, record.kind === 'quic' ? 'quic' : 'tcp');
    return record.#prints[name];
  }

  /** console.log and util.inspect show the values, not [Getter/Setter]. */
  [Symbol.for('nodejs.util.inspect.custom')](depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return inspect({ ...this }, { ...options, depth });
  }
}

/** One accessor per fingerprint (in NAMES' order), shared by every record; assigning one makes it a plain value. */
const LAZY: PropertyDescriptor[] = NAMES.map((name) => ({
  enumerable: true,
  configurable: true,
  get(this: Handshake) {
    return Handshake.fingerprint(this, name);
  },
  set(this: Handshake, value: unknown) {
    Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
  },
}));

/** A handshake record from what was seen (TLS over TCP and QUIC). */
export function handshakeRecord(
  kind: 'tls' | 'quic',
  context: ParserContext,
  client: ClientHello | null,
  server: ServerHello | null,
  clientTime: bigint | null,
  serverTime: bigint | null,
  flags: string[],
): HandshakeRecord {
  if (client === null && !flags.includes('no-client-hello')) flags.push('no-client-hello');
  return new Handshake(kind, context.flow, client, server, clientTime, serverTime, flags) as unknown as HandshakeRecord;
}
