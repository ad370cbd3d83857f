/**
 * `wirecap extcap`: Wireshark's extcap protocol (see lib/extcap/), and
 * --install / --uninstall of the launcher Wireshark runs.
 */
import { Command } from 'commander';
import { VERSION } from '../core/version';
import { extcapCapture, INTERFACES, type ExtcapCaptureOptions } from '../extcap/capture';
import { installExtcap, uninstallExtcap } from '../extcap/install';
import { configText, dltsText, interfacesText } from '../extcap/protocol';
import { closeOnSignals, integer, Io } from './output';

/** The options commander parses: the capture's own (the FIFO and filter under extcap's names), and the protocol's. */
interface ExtcapFlags extends Partial<Omit<ExtcapCaptureOptions, 'fifo' | 'filter' | 'signal'>> {
  install?: boolean;
  uninstall?: boolean;
  dir?: string[];
  extcapInterfaces?: boolean;
  extcapInterface?: string;
  extcapDlts?: boolean;
  extcapConfig?: boolean;
  capture?: boolean;
  fifo?: string;
  extcapCaptureFilter?: string;
}

const repeat = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerExtcap(cli: Command, { out }: Io): void {
  cli
    .command('extcap')
    .description("Wireshark extcap: JetStream streams and gRPC listeners as capture interfaces (--install puts the launcher where Wireshark looks)")
    .option('--install', 'install the launcher into the extcap folders (as root, the global one too)')
    .option('--uninstall', 'remove the launcher')
    .option('--dir <folder>', 'install into (or uninstall from) this folder instead; repeatable', repeat)
    .option('--extcap-interfaces', 'list the interfaces (Wireshark asks)')
    .option('--extcap-version <version>', "Wireshark's version")
    .option('--extcap-interface <name>', 'the interface asked about or captured')
    .option('--extcap-dlts', "the interface's link types")
    .option('--extcap-config', "the interface's options")
    .option('--extcap-reload-option <option>', 'unused: no option has values to reload')
    .option('--capture', 'capture into --fifo')
    .option('--fifo <path>', 'the FIFO Wireshark reads')
    .option('--extcap-capture-filter <filter>', 'BPF capture filter')
    .option('--extcap-control-in <path>', 'unused: no toolbar controls')
    .option('--extcap-control-out <path>', 'unused: no toolbar controls')
    .option('--debug', 'unused')
    .option('--debug-file <file>', 'unused')
    .option('--nats <urls>', 'wirecap-nats: NATS server URLs')
    .option('--stream <name>', 'wirecap-nats: the stream')
    .option('--sensor <name>', "wirecap-nats: only this sensor's packets")
    .option('--subject <subject>', 'wirecap-nats: only this subject')
    .option('--since <time>', 'wirecap-nats: now, a duration back (5m) or an ISO 8601 time')
    .option('--creds <file>', 'wirecap-nats: credentials file')
    .option('--port <n>', 'wirecap-grpc: port to listen on', integer)
    .option('--host <address>', 'wirecap-grpc: address to listen on')
    .action(async (o: ExtcapFlags) => {
      if (o.install || o.uninstall) {
        const files = o.install ? installExtcap(o.dir) : uninstallExtcap(o.dir);
        for (const f of files) out.write(`${o.install ? 'installed' : 'removed'} ${f}\n`);
        return;
      }
      if (o.extcapInterfaces) {
        out.write(interfacesText(VERSION, 'https://www.npmjs.com/package/wirecap', INTERFACES));
        return;
      }
      const iface = INTERFACES.find((i) => i.value === o.extcapInterface);
      if (iface === undefined) cli.error(`error: --extcap-interface must be one of ${INTERFACES.map((i) => i.value).join(', ')}`, { exitCode: 2 });
      if (o.extcapDlts) out.write(dltsText(iface!));
      else if (o.extcapConfig) out.write(configText(iface!));
      else if (o.capture && o.fifo) {
        const stop = new AbortController();
        const release = closeOnSignals(() => stop.abort());
        try {
          // Wireshark shows whatever comes on stderr as an error: only errors go there.
          await extcapCapture(iface!.value, { ...o, fifo: o.fifo, filter: o.extcapCaptureFilter, signal: stop.signal });
        } finally {
          release();
        }
      } else cli.error('error: give --extcap-interfaces, --extcap-dlts, --extcap-config or --capture --fifo F', { exitCode: 2 });
    });
}
