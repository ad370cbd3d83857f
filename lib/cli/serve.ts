/** `wirecap serve`: a device's (or a file's) packets to pcap-over-IP clients. */
import { Command } from 'commander';
import fs from 'node:fs';
import { openLive } from '../capture/capture';
import { openOffline } from '../files/offline';
import { servePcap } from '../pcap-over-ip/server';
import { captureSource, MetricsFlag, metricsOption, listenMetrics } from './metrics-option';
import { Io, closeOnSignals, integer, listenAddress } from './output';

export function registerServe(cli: Command, { out, err }: Io): void {
  metricsOption(cli.command('serve'))
    .description('serve packets over pcap-over-IP (a pcap stream per TCP client, as Arkime and NetworkMiner read it); slow clients lose packets, the capture never waits')
    .argument('<source>', 'device name, or a pcap/pcapng file (- for standard input)')
    .argument('[filter...]', 'BPF filter')
    .requiredOption('--listen <[host]:port>', 'address to listen on (:port: every address)', listenAddress)
    .option('--client-bytes <n>', "bytes that may wait for one client before its packets are dropped (default 4194304)", integer)
    .action(async (source: string, filter: string[], o: MetricsFlag & { listen: { host: string; port: number }; clientBytes?: number }) => {
      const metrics = await listenMetrics(o.metrics, err);
      const isFile = source === '-' || (fs.existsSync(source) && fs.statSync(source).isFile());
      const capture = isFile ? openOffline(source, { filter: filter.join(' '), singleLinktype: true }) : openLive(source, { filter: filter.join(' ') });
      const server = await servePcap(capture, { ...o.listen, ...(o.clientBytes ? { clientBytes: o.clientBytes } : {}) });
      err.write(`serving pcap-over-IP on ${o.listen.host}:${server.port}\n`);
      metrics.watch(...(isFile ? [] : [captureSource(capture)]), [{ device: source }, () => ({ sent: server.stats().sent, dropped: server.stats().dropped })]);
      const release = closeOnSignals(() => capture.close());
      try {
        const s = await server.done;
        out.write(`${s.sent} packets sent to ${s.connections} client(s), ${s.dropped} dropped for slow clients\n`);
      } finally {
        release();
        await metrics.close();
        capture.close();
      }
    });
}
