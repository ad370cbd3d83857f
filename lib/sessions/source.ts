/**
 * Session records from any flow source: the flow tracker reassembles, the
 * registry's parsers read, and the records come out as they are made.
 *
 *   for await (const r of sessions(openOffline('x.pcap'))) if (r.kind === 'tls') console.log(r.sni, r.ja4);
 */
import { checkKeys } from '../core/validate';
import { invalid } from '../core/errors';
import { FlowTracker } from '../flows/tracker';
import { feed, type FlowSource, type TrackOptions } from '../flows/source';
import { ParserRegistry, type RegistryOptions } from './registry';
import type { ParserDefinition, SessionRecord } from './types';

export interface SessionOptions extends Omit<TrackOptions, 'tracker' | 'streams'>, RegistryOptions {
  /** Parsers of your own, tried before the built-in ones. */
  parsers?: ParserDefinition[];
  /** A registry to use (to read its stats afterwards); parsers/builtins/http then come from it. */
  registry?: ParserRegistry;
}

const KEYS = ['linktype', 'vlan', 'maxFlows', 'timeouts', 'defrag', 'reassembly', 'builtins', 'http', 'parsers', 'registry'];

/** The session records (HTTP transactions, TLS and QUIC handshakes, your parsers' records) of source, in the order they complete. */
export async function* sessions(source: FlowSource, options: SessionOptions = {}): AsyncGenerator<SessionRecord> {
  checkKeys(options, KEYS, 'sessions');
  const { linktype, parsers, registry: given, builtins, http, ...flowOptions } = options;
  if (parsers !== undefined && !Array.isArray(parsers)) throw invalid('parsers must be an array of parser definitions');
  const registry = given ?? new ParserRegistry({ builtins, http });
  for (const p of parsers ?? []) registry.add(p);
  const out: SessionRecord[] = [];
  const tracker = new FlowTracker({ ...flowOptions, streams: registry.streams((r) => out.push(r)) });
  for await (const _ of feed(source, tracker, linktype)) yield* out.splice(0);
  yield* out.splice(0);
}
