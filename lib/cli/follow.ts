/**
 * `wirecap follow`: one TCP connection's bytes, both directions, as
 * `tshark -q -z follow,tcp,<format>,<stream>` writes them: a header naming
 * the two nodes, then each piece in capture order (the server's indented
 * by a tab), a hole written as "[N bytes missing in capture file]".
 */
import { Command, InvalidArgumentError } from 'commander';
import { WirecapError } from '../core/errors';
import { trackFlows } from '../flows/source';
import { FlowTracker } from '../flows/tracker';
import type { Direction, Flow } from '../flows/types';
import { closeOnSignals, Io, openSource, progressLine } from './output';

const FORMATS = ['ascii', 'hex', 'raw'] as const;
type Format = (typeof FORMATS)[number];
const RULE = '='.repeat(67);

/** address:port as tshark names a node ([v6]:port). */
const node = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

/** "a:p,b:p" (IPv6 in brackets) into two endpoints. */
function tuple(value: string): [string, string] {
  const m = /^(\[[^\]]+\]:\d+|[^,:]+:\d+),(\[[^\]]+\]:\d+|[^,:]+:\d+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError('ADDRESS:PORT,ADDRESS:PORT is expected (IPv6 in brackets)');
  return [m[1], m[2]];
}

function index(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a stream index (0, 1, ...) is expected');
  return n;
}

/** Writes pieces in a format; hex keeps each direction's running offset. */
class Printer {
  #offsets = { client: 0, server: 0 };
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly format: Format,
  ) {}

  data(direction: Direction, bytes: Buffer): void {
    const tab = direction === 'server' ? '\t' : '';
    if (this.format === 'raw') this.out.write(`${tab}${bytes.toString('hex')}\n`);
    else if (this.format === 'ascii') this.out.write(`${printable(bytes)}\n`);
    else {
      const lines: string[] = [];
      for (let i = 0; i < bytes.length; i += 16) {
        const row = bytes.subarray(i, i + 16);
        const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
        lines.push(`${tab}${(this.#offsets[direction] + i).toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${printable(row)}`);
      }
      this.out.write(`${lines.join('\n')}\n`);
    }
    this.#offsets[direction] += bytes.length;
  }

  gap(direction: Direction, length: number): void {
    const text = `[${length} bytes missing in capture file]`;
    if (this.format === 'ascii') this.out.write(`${text}\n`);
    else this.data(direction, Buffer.from(`${text}\0`));
  }
}

/** Bytes as text, each unprintable one (bar newlines and tabs) as a dot. */
function printable(bytes: Buffer): string {
  let s = '';
  for (const b of bytes) s += (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09 ? String.fromCharCode(b) : '.';
  return s;
}

export function registerFollow(cli: Command, { out, err }: Io): void {
  cli
    .command('follow')
    .description("one TCP connection's bytes, both directions, as tshark -z follow,tcp writes them")
    .argument('<source>', 'pcap or pcapng file (- for standard input), or a device to capture on')
    .argument('[filter...]', 'BPF filter')
    .option('-i, --index <n>', 'the nth TCP connection (from 0, in order of first packet: tshark tcp.stream)', index)
    .option('-t, --tuple <a,b>', 'the connection between these two endpoints, ADDRESS:PORT,ADDRESS:PORT', tuple)
    .option('-f, --format <format>', `${FORMATS.join(', ')}`, (v: string) => {
      if (!(FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`one of ${FORMATS.join(', ')} is expected`);
      return v as Format;
    }, 'ascii')
    .action(async (source: string, filter: string[], options: { index?: number; tuple?: [string, string]; format: Format }) => {
      if ((options.index === undefined) === (options.tuple === undefined)) throw new WirecapError('follow needs either --index or --tuple', 'EINVAL');
      const { cap } = openSource(source, filter.join(' '));
      const printer = new Printer(out, options.format);
      let seen = 0;
      let chosen: Flow | null = null;
      const matches = (f: Flow): boolean => {
        if (options.tuple !== undefined) {
          const ends = [node(f.key.src, f.key.srcPort), node(f.key.dst, f.key.dstPort)];
          return ends.includes(options.tuple[0]) && ends.includes(options.tuple[1]) && options.tuple[0] !== options.tuple[1];
        }
        return seen++ === options.index;
      };
      const tracker = new FlowTracker({
        streams(flow) {
          if (chosen !== null || flow.key.protocol !== 6 || !matches(flow)) return null;
          chosen = flow;
          const k = flow.key;
          const filterText = options.tuple !== undefined ? `tcp and ${options.tuple.join(' and ')}` : `tcp.stream eq ${options.index}`;
          out.write(`\n${RULE}\nFollow: tcp,${options.format}\nFilter: ${filterText}\nNode 0: ${node(k.src, k.srcPort)}\nNode 1: ${node(k.dst, k.dstPort)}\n`);
          return { onData: (d, bytes) => printer.data(d, bytes), onGap: (d, length) => printer.gap(d, length) };
        },
      });
      const progress = progressLine(err, '{packets} packets | {flows} flows | {rate} pkt/s', () => ({ packets: tracker.stats.packets, flows: tracker.stats.flows }), 'packets');
      const release = closeOnSignals(() => cap.close());
      try {
        for await (const _ of trackFlows(cap, { tracker })) void _;
      } finally {
        release();
        progress.stop();
        cap.close();
      }
      if (chosen === null) throw new WirecapError(options.tuple !== undefined ? `no TCP connection between ${options.tuple.join(' and ')}` : `no TCP connection ${options.index} (${seen} seen)`, 'EINVAL');
      out.write(`${RULE}\n`);
    });
}
