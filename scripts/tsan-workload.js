'use strict';
// What scripts/test-tsan.sh runs under ThreadSanitizer: every path where the
// JS thread and a capture thread meet. The queue (Publish/read), the task
// handoff (setFilter, inject, stats while packets flow), the file reader's
// wait for room, dumps started, polled and stopped on the capture thread,
// close() against a busy thread, and workers terminated mid-capture.
// Loopback traffic only, bounded in count and time.
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const wirecap = require('..');

const ROOT = path.join(__dirname, '..');
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-tsan-'));
  const sink = dgram.createSocket('udp4');
  await new Promise((r) => sink.bind(0, '127.0.0.1', r));
  const port = sink.address().port;
  const tx = dgram.createSocket('udp4');
  let sent = 0;
  const traffic = setInterval(() => {
    for (let i = 0; i < 20 && sent < 200000; i++, sent++) tx.send(Buffer.alloc(100, i), port, '127.0.0.1');
  }, 1);
  const filter = `udp port ${port}`;

  // The queue and the task handoff, with a tee dump started and stopped.
  for (let round = 0; round < 5; round++) {
    const cap = wirecap.openLive('lo', { filter, timeoutMs: 5, queueBytes: 65536 });
    const dump = cap.dump(path.join(dir, `tee-${round}.pcap`));
    let n = 0;
    const poke = setInterval(() => {
      cap.setFilter(n % 2 ? filter : `${filter} or udp port 9`);
      cap.inject(Buffer.alloc(60));
      cap.stats();
      dump.stats();
      cap.unref();
      cap.ref();
    }, 3);
    for await (const batch of cap.batches()) {
      n += batch.count;
      if (n > 3000) break;
    }
    clearInterval(poke);
    await dump.stop();
  }

  // close() against a capture thread that is busy and a dump-only capture.
  for (let round = 0; round < 20; round++) {
    const cap = wirecap.openLive('lo', { filter, timeoutMs: 5 });
    const dumper = wirecap.liveDump('lo', path.join(dir, `live-${round}.pcap`), { filter, timeoutMs: 5 });
    await pause(round % 7);
    cap.close();
    await dumper.stop();
  }

  // The file reader waiting for room, closed mid-read.
  const trace = path.join(dir, 'trace.pcap');
  const writer = wirecap.createWriter(trace);
  for (let i = 0; i < 20000; i++) writer.write({ timestamp: BigInt(i) * 1000n, data: Buffer.alloc(200, i) });
  writer.close();
  for (let round = 0; round < 10; round++) {
    const file = wirecap.openOffline(trace, { queueBytes: 65536 });
    let n = 0;
    for await (const _ of file) if (++n > round * 1500) break;
  }

  // Workers terminated while they capture.
  for (let round = 0; round < 6; round++) {
    const worker = new Worker(
      `const wirecap = require(${JSON.stringify(ROOT)});
       (async () => { for await (const p of wirecap.openLive('lo', { filter: ${JSON.stringify(filter)}, timeoutMs: 5 })); })();`,
      { eval: true },
    );
    await pause(100 + round * 30);
    await worker.terminate();
  }

  clearInterval(traffic);
  tx.close();
  sink.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`tsan workload done: ${sent} datagrams sent`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
