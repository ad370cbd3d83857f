/** `wirecap collect`: a PacketStreaming collector, optionally writing files. */
import { Command, Option } from 'commander';
import { createCollector } from '../stream/collector';
import { DEFAULT_PROTO_PACKAGE } from '../stream/protocol';
import { MetricsFlag, metricsOption, listenMetrics } from './metrics-option';
import { Io, closeOnSignals, integer, readerGone, textStream } from './output';

export function registerCollect(cli: Command, io: Io): void {
  const { err } = io;
  metricsOption(cli.command('collect'))
    .description('collect PacketStreaming streams over gRPC, optionally into a capture file')
    .requiredOption('--port <n>', 'port to listen on', integer)
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('-w, --write <file>', 'write the packets of every stream to this file')
    .option('--per-stream', 'one file per stream: <name>_<stream id><.ext>')
    .addOption(new Option('--format <format>', 'file format').choices(['pcap', 'pcapng']).default('pcap'))
    .option('--tls-cert <file>', 'PEM certificate (with --tls-key) for TLS')
    .option('--tls-key <file>', 'PEM private key')
    .option('--proto-package <name>', 'proto package of the service', DEFAULT_PROTO_PACKAGE)
    .action(async (o: MetricsFlag & { port: number; host: string; write?: string; perStream?: boolean; format: 'pcap' | 'pcapng'; tlsCert?: string; tlsKey?: string; protoPackage: string }) => {
      const metrics = await listenMetrics(o.metrics, err);
      const collector = await createCollector({
        port: o.port,
        host: o.host,
        protoPackage: o.protoPackage,
        ...(o.write ? { write: { path: o.write, format: o.format, perStream: o.perStream === true } } : {}),
        ...(o.tlsCert && o.tlsKey ? { tls: { cert: o.tlsCert, key: o.tlsKey } } : {}),
        log: (m) => err.write(`${m}\n`),
      });
      const out = textStream(io, o.write);
      metrics.watch([{}, () => ({ received: collector.ended().packets, streams: collector.ended().streams })]);
      err.write(`collecting on ${o.host}:${collector.port}\n`);
      await new Promise<void>((resolve) => {
        const release = closeOnSignals(() => {
          release();
          resolve();
        });
        void collector.writeFailed.then((error) => {
          err.write(readerGone(error) ? 'the reader of standard output went away\n' : `wirecap: ${error.message}\n`);
          if (!readerGone(error)) process.exitCode = 1;
          release();
          resolve();
        });
      });
      try {
        await collector.close();
      } catch (error) {
        if (!readerGone(error)) throw error; // said already
      }
      await metrics.close();
      const summaries = collector.summaries();
      const ended = collector.ended();
      if (summaries.length < ended.streams) out.write(`the last ${summaries.length} of ${ended.streams} streams:\n`);
      for (const s of summaries) out.write(`stream ${s.id} from ${s.peer}: ${s.packets} packets${s.error ? `, ended by ${s.error.code}` : ''}\n`);
      out.write(`${ended.packets} packets in ${ended.streams} streams\n`);
    });
}
