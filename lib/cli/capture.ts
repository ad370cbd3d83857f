/** `wirecap capture`: a device's packets, one line each. */
import { Command } from 'commander';
import { openLive } from '../capture/capture';
import { Io, integer, printToEnd, statsText } from './output';
import { sessionHooks } from './sessions';

export function registerCapture(cli: Command, { out, err }: Io): void {
  cli
    .command('capture')
    .description('print packets from a device, one line each, until Ctrl-C or -c')
    .argument('<iface>', 'device name (see wirecap list)')
    .argument('[filter...]', 'BPF filter, as tcpdump takes it')
    .option('-c, --count <n>', 'stop after n packets', integer)
    .option('--json', 'one JSON object a line')
    .option('--hex', 'print the bytes too')
    .option('--snaplen <n>', 'bytes kept of each packet', integer)
    .option('--immediate', 'deliver each packet at once')
    .option('--nano', 'nanosecond timestamps')
    .option('--sessions', 'after the packet that completes one, each HTTP transaction and TLS/QUIC handshake')
    .action(async (iface: string, filter: string[], options: { count?: number; json?: boolean; hex?: boolean; snaplen?: number; immediate?: boolean; nano?: boolean; sessions?: boolean }) => {
      const cap = openLive(iface, {
        filter: filter.join(' '),
        snaplen: options.snaplen,
        immediate: options.immediate ?? false,
        precision: options.nano ? 'nano' : 'micro',
      });
      try {
        await printToEnd(cap, options, out, options.sessions ? sessionHooks(options.json ?? false) : undefined);
      } finally {
        err.write(`${statsText(cap.stats())}\n`);
      }
    });
}
