/**
 * `wirecap flows`: the conversations of a file or a device. A file's table
 * is printed sorted once it is read; a device's flows are printed as they
 * end (streaming), and the rest on Ctrl-C.
 */
import { Command, InvalidArgumentError } from 'commander';
import { trackFlows } from '../flows/source';
import { FlowTracker } from '../flows/tracker';
import type { Flow } from '../flows/types';
import { closeOnSignals, integer, Io, isoTime, openSource, progressLine } from './output';
import { flowSessions, recordJson } from './sessions';

const SORTS = ['bytes', 'packets', 'start', 'duration'] as const;
type Sort = (typeof SORTS)[number];

const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };
const endpoint = (address: string, port: number, protocol: number): string =>
  protocol === 6 || protocol === 17 ? (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`) : address;

/** A flow as one JSON object (timestamps as decimal strings and ISO times). */
export function flowJson(f: Flow): Record<string, unknown> {
  return {
    id: f.id,
    ...f.key,
    proto: PROTOCOLS[f.key.protocol] ?? String(f.key.protocol),
    start: isoTime(f.first),
    first: String(f.first),
    last: String(f.last),
    durationMs: Number(f.last - f.first) / 1e6,
    client: f.client,
    server: f.server,
    directionGuessed: f.directionGuessed,
    ...(f.tcp !== undefined ? { tcp: f.tcp } : {}),
    endReason: f.endReason,
  };
}

function line(f: Flow): string {
  const k = f.key;
  const proto = (PROTOCOLS[k.protocol] ?? `ip-${k.protocol}`).padEnd(6);
  const ends = `${endpoint(k.src, k.srcPort, k.protocol)} <-> ${endpoint(k.dst, k.dstPort, k.protocol)}`.padEnd(50);
  const dir = (s: { packets: number; bytes: number }): string => `${String(s.packets).padStart(8)} ${String(s.bytes).padStart(12)}`;
  const seconds = (Number(f.last - f.first) / 1e9).toFixed(3).padStart(10);
  const state = f.tcp !== undefined ? `${f.tcp.state} ${f.tcp.history}` : '';
  return `${proto} ${k.vlan !== undefined ? `vlan ${k.vlan} ` : ''}${ends} ${dir(f.client)} ${dir(f.server)} ${seconds}  ${f.endReason}${f.directionGuessed ? ' (direction guessed)' : ''} ${state}`.trimEnd();
}

const HEADER = `${'proto'.padEnd(6)} ${'client <-> server'.padEnd(50)} ${'pkts ->'.padStart(8)} ${'bytes ->'.padStart(12)} ${'pkts <-'.padStart(8)} ${'bytes <-'.padStart(12)} ${'seconds'.padStart(10)}  end state`;

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('a number of seconds (0 or more) is expected');
  return Math.round(n * 1e9);
}

const sortKey: Record<Sort, (f: Flow) => number> = {
  bytes: (f) => -(f.client.bytes + f.server.bytes),
  packets: (f) => -(f.client.packets + f.server.packets),
  start: (f) => Number(f.first),
  duration: (f) => -Number(f.last - f.first),
};

export function registerFlows(cli: Command, { out, err }: Io): void {
  cli
    .command('flows')
    .description('the conversations (TCP, UDP, ICMP, other IP) of a capture file or a device, as tshark -z conv')
    .argument('<source>', 'pcap or pcapng file (- for standard input), or a device to capture on')
    .argument('[filter...]', 'BPF filter')
    .option('--json', 'one JSON object a line')
    .option('--sort <key>', `order of a file's table: ${SORTS.join(', ')}`, (v: string) => {
      if (!(SORTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`one of ${SORTS.join(', ')} is expected`);
      return v as Sort;
    }, 'bytes')
    .option('-n, --top <n>', "print only the first n of a file's table", integer)
    .option('--vlan', 'key flows on the VLAN id too')
    .option('--max-flows <n>', 'flows held at once (the least recently seen is evicted)', integer)
    .option('--timeout <seconds>', 'one idle timeout for every protocol, closed TCP included, in seconds of packet time', seconds)
    .option('--sessions', "under each flow, its HTTP transactions and TLS/QUIC handshakes (JSON: a 'sessions' array)")
    .action(async (source: string, filter: string[], options: { json?: boolean; sort: Sort; top?: number; vlan?: boolean; maxFlows?: number; timeout?: number; sessions?: boolean }) => {
      const { cap, live } = openSource(source, filter.join(' '));
      const t = options.timeout;
      const sessions = options.sessions ? flowSessions() : null;
      const tracker = new FlowTracker({
        ...(sessions !== null ? { streams: sessions.streams } : {}),
        vlan: options.vlan ?? false,
        ...(options.maxFlows !== undefined ? { maxFlows: options.maxFlows } : {}),
        ...(t !== undefined ? { timeouts: { tcp: t, tcpClosed: t, udp: t, other: t } } : {}),
      });
      const print = (f: Flow): void => {
        if (sessions === null) out.write(`${options.json ? JSON.stringify(flowJson(f)) : line(f)}\n`);
        else out.write(options.json ? `${recordJson({ ...flowJson(f), sessions: sessions.records(f) })}\n` : `${line(f)}\n${sessions.lines(f)}`);
      };
      const progress = progressLine(err, '{packets} packets | {flows} flows | {active} open | {rate} pkt/s', () => {
        const s = tracker.stats;
        return { packets: s.packets, flows: s.flows, active: s.active };
      }, 'packets');
      const release = closeOnSignals(() => cap.close());
      const all: Flow[] = [];
      try {
        if (live && !options.json) out.write(`${HEADER}\n`);
        for await (const f of trackFlows(cap, { tracker })) {
          if (live) print(f);
          else all.push(f);
        }
      } finally {
        release();
        progress.stop();
        cap.close();
      }
      if (!live) {
        const key = sortKey[options.sort];
        all.sort((a, b) => key(a) - key(b) || a.id - b.id);
        const shown = options.top === undefined ? all : all.slice(0, options.top);
        if (!options.json) out.write(`${HEADER}\n`);
        shown.forEach(print);
      }
      const s = tracker.stats;
      const d = s.defrag;
      const summary = `${s.packets} packets, ${s.flows} flows (ended: ${s.ended.closed} closed, ${s.ended.idle} idle, ${s.ended.evicted} evicted, ${s.ended.end} open at the end); ${s.notIp} not IP, ${s.truncated} cut before their ports${d === null ? '' : `; ${d.reassembled} datagrams reassembled from ${d.fragments} fragments, ${d.timedOut + d.incomplete + d.evicted + d.tooBig + d.tooManyFragments + d.malformed} given up`}`;
      err.write(`${summary}\n`);
    });
}
