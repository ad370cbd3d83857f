/** `wirecap stream`: packets from a device or a file to a PacketStreaming collector. */
import { Command } from 'commander';
import fs from 'node:fs';
import { openLive } from '../capture/capture';
import { openOffline } from '../files/offline';
import { streamPackets } from '../stream/exporter';
import { DEFAULT_PROTO_PACKAGE } from '../stream/protocol';
import { captureSource, senderSource, MetricsFlag, metricsOption, listenMetrics } from './metrics-option';
import { Io, closeOnSignals, progressLine } from './output';

export function registerStream(cli: Command, { out, err }: Io): void {
  metricsOption(cli.command('stream'))
    .description('stream packets from a device or a capture file to a PacketStreaming collector over gRPC')
    .argument('<source>', 'device name, or a pcap/pcapng file (- for standard input)')
    .argument('[filter...]', 'BPF filter')
    .requiredOption('--to <host:port>', 'the collector')
    .option('--tls', "use TLS (the system's CA roots unless --ca)")
    .option('--ca <file>', "PEM file of the CA that signed the collector's certificate (implies --tls)")
    .option('--proto-package <name>', "proto package of the peer's service", DEFAULT_PROTO_PACKAGE)
    .action(async (source: string, filter: string[], o: MetricsFlag & { to: string; tls?: boolean; ca?: string; protoPackage: string }) => {
      const metrics = await listenMetrics(o.metrics, err);
      const isFile = source === '-' || (fs.existsSync(source) && fs.statSync(source).isFile());
      const capture = isFile ? openOffline(source, { filter: filter.join(' '), singleLinktype: true }) : openLive(source, { filter: filter.join(' ') });
      const stream = streamPackets(o.to, capture, { tls: o.ca ? { ca: o.ca } : o.tls === true, protoPackage: o.protoPackage });
      metrics.watch(...(isFile ? [] : [captureSource(capture)]), senderSource({ device: source }, stream));
      const release = closeOnSignals(() => capture.close());
      const progress = progressLine(out, '{sent} sent | {dropped} dropped | {reconnects} reconnects | {rate} pkt/s', () => ({ ...stream.stats() }), 'sent');
      try {
        const s = await stream.done;
        progress.stop();
        out.write(`${s.sent} packets sent to ${o.to}, ${s.dropped} dropped, ${s.reconnects} reconnects\n`);
      } finally {
        await metrics.close();
        progress.stop();
        release();
        capture.close();
      }
    });
}
