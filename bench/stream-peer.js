'use strict';
// One side of bench/stream.js, in its own process so its RSS is its own.
//   node stream-peer.js collector              listens, prints {"port"}; on SIGTERM {"packets","maxRssMB"}
//   node stream-peer.js wirecap <port> <trace>  streamPackets(openOffline(trace))
//   node stream-peer.js plain <port> <count>    one @grpc/grpc-js client stream of the same messages, no capture code
// The exporters print {"packets","seconds","maxRssMB"}.
const grpc = require('@grpc/grpc-js');
const { createCollector, openOffline, streamPackets } = require('..');
const { encodePacket, packetStreamingService, DEFAULT_PROTO_PACKAGE } = require('../dist/stream/protocol');

const [role, portText, arg] = process.argv.slice(2);
const maxRssMB = () => process.resourceUsage().maxRSS / 1024;
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

(async () => {
  if (role === 'collector') {
    const collector = await createCollector({ host: '127.0.0.1' });
    print({ port: collector.port });
    process.once('SIGTERM', async () => {
      await collector.close();
      print({ packets: collector.summaries().reduce((n, s) => n + s.packets, 0), maxRssMB: maxRssMB() });
    });
    return;
  }
  const target = `127.0.0.1:${portText}`;
  const started = process.hrtime.bigint();
  let packets;
  if (role === 'wirecap') {
    packets = (await streamPackets(target, openOffline(arg)).done).sent;
  } else {
    // The messages bench/make-trace.js writes, made in memory and sent as fast as flow control allows.
    const count = Number(arg);
    const service = packetStreamingService(DEFAULT_PROTO_PACKAGE);
    const Client = grpc.makeGenericClientConstructor(service, 'PacketStreaming');
    const client = new Client(target, grpc.credentials.createInsecure());
    await new Promise((resolve, reject) => {
      const call = client.Run((error) => (error ? reject(error) : resolve()));
      let i = 0;
      const frame = Buffer.alloc(1514);
      const pump = () => {
        while (i < count) {
          const size = 64 + ((i * 7) % (1514 - 64 + 1));
          const message = encodePacket(1_700_000_000_000_000_000n + BigInt(i) * 13000n, size, frame.subarray(0, size));
          i++;
          if (!call.write(message)) return void call.once('drain', pump);
        }
        call.end();
      };
      pump();
    });
    client.close();
    packets = count;
  }
  print({ packets, seconds: Number(process.hrtime.bigint() - started) / 1e9, maxRssMB: maxRssMB() });
})();
