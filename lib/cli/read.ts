/** `wirecap read`: a capture file's packets, one line each. */
import { Command } from 'commander';
import { openOffline } from '../files/offline';
import { openPcapStream } from '../pcap-over-ip/reader';
import { Io, integer, printToEnd } from './output';
import { sessionHooks } from './sessions';

export function registerRead(cli: Command, { out }: Io): void {
  cli
    .command('read')
    .description('print the packets of a capture file (- for standard input)')
    .argument('<file>', 'pcap or pcapng file, or tcp://host:port for pcap-over-IP')
    .argument('[filter...]', 'BPF filter')
    .option('-c, --count <n>', 'stop after n packets', integer)
    .option('--json', 'one JSON object a line')
    .option('--hex', 'print the bytes too')
    .option('--sessions', 'after the packet that completes one, each HTTP transaction and TLS/QUIC handshake')
    .action(async (file: string, filter: string[], options: { count?: number; json?: boolean; hex?: boolean; sessions?: boolean }) => {
      const source = file.startsWith('tcp://') ? await openPcapStream(file, { filter: filter.join(' ') }) : openOffline(file, { filter: filter.join(' ') });
      await printToEnd(source, options, out, options.sessions ? sessionHooks(options.json ?? false) : undefined);
    });
}
