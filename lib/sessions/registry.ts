/**
 * The parser registry: for each new TCP connection or UDP flow it picks
 * the first parser definition that claims it (by port, by sniffing the
 * first bytes, or both), replays what was held while deciding, then
 * passes the flow's bytes straight through. The built-in parsers (HTTP/1.x,
 * TLS, QUIC Initial) are definitions like any user's, tried after them.
 */
import { httpParser, type HttpOptions } from './http';
import { quicParser } from './quic';
import { tlsParser } from './tls';
import type { DatagramInfo, Flow, FlowEndReason, StreamFactory, StreamHandler } from '../flows/types';
import type { ChunkInfo, CustomRecord, Direction, ParserContext, ParserDefinition, SessionFlow, SessionParser, SessionRecord } from './types';

/** Bytes held per flow while no parser has claimed it yet. */
const SNIFF_BYTES = 1024;
/** Datagrams of a UDP flow looked at before giving up on it. */
const SNIFF_DATAGRAMS = 4;

export interface SessionStats {
  /** Flows seen, flows a parser claimed (per parser name), and flows no parser wanted. */
  flows: number;
  claimed: Record<string, number>;
  unclaimed: number;
  records: number;
  /** Bytes parsers gave up on: junk, past a bound, or after a gap they could not cross. */
  bytesGivenUp: number;
  /** Exceptions thrown by parsers (the parser is detached and a record flagged 'parser-threw' is emitted). */
  parserErrors: number;
}

export interface RegistryOptions {
  /** Include the built-in HTTP, TLS and QUIC parsers (default true). */
  builtins?: boolean;
  http?: HttpOptions;
}

/** The per-flow handler the registry gives the flow tracker (its StreamHandler, every method present). */
export type FlowHandler = Required<Pick<StreamHandler, 'onData' | 'onGap' | 'onDatagram'>> & { onEnd(reason: FlowEndReason, flow?: Pick<Flow, 'last'>): void };

type Held = { kind: 'data'; direction: Direction; bytes: Buffer; info: ChunkInfo } | { kind: 'gap'; direction: Direction; length: number; info: ChunkInfo };

export class ParserRegistry {
  readonly definitions: ParserDefinition[] = [];
  private readonly builtins: ParserDefinition[];
  /** The definitions of each transport, in the order they are tried (rebuilt after add()). */
  private byTransport: Record<'tcp' | 'udp', { all: ParserDefinition[]; byPort: boolean }> | null = null;
  readonly stats: SessionStats = { flows: 0, claimed: {}, unclaimed: 0, records: 0, bytesGivenUp: 0, parserErrors: 0 };

  constructor(options: RegistryOptions = {}) {
    this.builtins = options.builtins === false ? [] : [httpParser(options.http), tlsParser(), quicParser()];
  }

  /** Adds a parser, tried before the built-in ones (and after those added earlier). */
  add(definition: ParserDefinition): this {
    this.definitions.push(definition);
    this.byTransport = null;
    return this;
  }

  /**
   * The flow tracker's `streams` option: a handler per new TCP or UDP flow,
   * or none (no reassembly, no cost) when no parser could want that flow.
   */
  streams(sink: (record: SessionRecord) => void): StreamFactory {
    return (flow) => {
      const handler = this.handler({ id: flow.id, key: flow.key }, sink);
      return handler.idle ? undefined : handler;
    };
  }

  /** A handler for one new flow; records go to `sink`. */
  handler(flow: SessionFlow, sink: (record: SessionRecord) => void): FlowHandler & { readonly idle: boolean } {
    this.stats.flows++;
    const transport = flow.key.protocol === 6 ? 'tcp' : flow.key.protocol === 17 ? 'udp' : null;
    if (transport === null) return new Dispatch(this, flow, [], sink);
    if (this.byTransport === null) {
      const of = (t: 'tcp' | 'udp') => [...this.definitions, ...this.builtins].filter((d) => d.transport === t);
      this.byTransport = { tcp: { all: of('tcp'), byPort: of('tcp').some((d) => d.ports !== undefined) }, udp: { all: of('udp'), byPort: of('udp').some((d) => d.ports !== undefined) } };
    }
    const { all, byPort } = this.byTransport[transport];
    const { srcPort, dstPort } = flow.key;
    // The list is shared between flows while no definition names ports (Dispatch copies it before narrowing it).
    const candidates = byPort ? all.filter((d) => d.ports === undefined || d.ports.includes(srcPort) || d.ports.includes(dstPort)) : all;
    return new Dispatch(this, flow, candidates, sink);
  }
}

class Dispatch implements FlowHandler {
  /** No parser can claim this flow (none for its transport or ports). */
  get idle(): boolean {
    return this.state === 'off';
  }

  private parser: SessionParser | null = null;
  private name = '';
  private state: 'sniffing' | 'attached' | 'off' = 'sniffing';
  private held: Held[] = [];
  private heldBytes = { client: 0, server: 0 };
  private datagrams = 0;
  private last = 0n;

  constructor(
    private readonly registry: ParserRegistry,
    private readonly flow: SessionFlow,
    private candidates: ParserDefinition[],
    private readonly sink: (record: SessionRecord) => void,
  ) {
    // A definition chosen by port alone needs no bytes to decide.
    if (candidates.length === 0) this.off();
    else if (candidates[0].sniff === undefined) this.attach(candidates[0]);
  }

  onData(direction: Direction, bytes: Buffer, info: ChunkInfo): void {
    this.last = info.timestamp;
    if (this.state === 'attached') {
      try {
        this.parser!.data?.(direction, bytes, info);
      } catch (error) {
        this.threw(error);
      }
      return;
    }
    if (this.state === 'off' || bytes.length === 0) return;
    if (this.held.length === 0) {
      // Usually the first chunk decides: no copy, and the parser gets it straight.
      const chosen = this.decide(direction, bytes, bytes.length);
      if (chosen !== null) {
        this.attach(chosen);
        this.onData(direction, bytes, info);
        return;
      }
      if (this.state !== 'sniffing') return;
    }
    this.held.push({ kind: 'data', direction, bytes: Buffer.from(bytes), info: { ...info } });
    this.heldBytes[direction] += bytes.length;
    if (this.held.length === 1) return; // decided above on these very bytes: undecided
    const first = Buffer.concat(this.held.filter((h): h is Extract<Held, { kind: 'data' }> => h.kind === 'data' && h.direction === direction).map((h) => h.bytes));
    const chosen = this.decide(direction, first, this.heldBytes[direction]);
    if (chosen !== null) this.attach(chosen);
  }

  onGap(direction: Direction, length: number, info: ChunkInfo): void {
    if (this.state === 'attached') {
      this.call(() => this.parser!.gap?.(direction, length, info));
      return;
    }
    if (this.state === 'sniffing') this.held.push({ kind: 'gap', direction, length, info: { ...info } });
  }

  onDatagram(direction: Direction, bytes: Buffer, info: DatagramInfo): void {
    this.last = info.timestamp;
    if (this.state === 'sniffing') {
      if (++this.datagrams > SNIFF_DATAGRAMS) return this.off();
      const chosen = this.candidates.find((d) => d.sniff!(direction, bytes) === true);
      if (chosen === undefined) return;
      this.attach(chosen);
    }
    if (this.state === 'attached') this.call(() => this.parser!.datagram?.(direction, bytes, info));
  }

  onEnd(reason: FlowEndReason, flow?: Pick<Flow, 'last'>): void {
    if (this.state === 'attached') {
      const last = flow?.last ?? this.last;
      this.call(() => this.parser!.end?.(reason, last));
    } else if (this.state === 'sniffing') {
      this.off();
    }
    this.state = 'off';
    this.parser = null;
  }

  /** Asks each candidate about the first bytes of this direction: the first that says yes, or null (still sniffing, or off when none can). */
  private decide(direction: Direction, first: Buffer, held: number): ParserDefinition | null {
    let keep: ParserDefinition[] | null = null;
    for (let i = 0; i < this.candidates.length; i++) {
      const d = this.candidates[i];
      const verdict = d.sniff === undefined ? true : d.sniff(direction, first);
      if (verdict === true && keep === null) return d;
      if (verdict !== false) (keep ??= []).push(d);
    }
    const undecided = keep !== null;
    this.candidates = keep ?? [];
    if (!undecided || held >= SNIFF_BYTES) this.off();
    return null;
  }

  private attach(definition: ParserDefinition): void {
    const context: ParserContext = {
      flow: this.flow,
      emit: (record) => {
        this.registry.stats.records++;
        this.sink(record as SessionRecord);
      },
      giveUp: (bytes) => {
        this.registry.stats.bytesGivenUp += bytes;
      },
      done: () => {
        this.state = 'off';
        this.parser = null;
      },
    };
    this.name = definition.name;
    this.registry.stats.claimed[definition.name] = (this.registry.stats.claimed[definition.name] ?? 0) + 1;
    this.state = 'attached';
    if (!this.call(() => (this.parser = definition.create(context)))) return;
    const held = this.held;
    this.held = [];
    for (const h of held) {
      if (this.state !== 'attached') break;
      if (h.kind === 'data') this.call(() => this.parser!.data?.(h.direction, h.bytes, h.info));
      else this.call(() => this.parser!.gap?.(h.direction, h.length, h.info));
    }
  }

  private off(): void {
    if (this.state === 'sniffing') this.registry.stats.unclaimed++;
    this.state = 'off';
    this.held = [];
  }

  /** Runs a parser call (off the hot path, which calls the parser itself). */
  private call(fn: () => unknown): boolean {
    try {
      fn();
      return true;
    } catch (error) {
      this.threw(error);
      return false;
    }
  }

  /** A parser threw: it is detached and its flow gets a flagged record. */
  private threw(error: unknown): void {
    this.registry.stats.parserErrors++;
    this.state = 'off';
    this.parser = null;
    const record: CustomRecord = { kind: 'error', flow: this.flow, flags: ['parser-threw'], parser: this.name, error: String((error as Error)?.message ?? error) };
    this.registry.stats.records++;
    this.sink(record as SessionRecord);
  }
}
