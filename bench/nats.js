'use strict';
// bench/nats: the 1-million-packet trace of bench/stream (bench/make-trace.js,
// 64..1514-byte mix) published by publishPackets() into an R1 and an R3
// stream of a 3-node JetStream cluster on 127.0.0.1, against the plain nats
// client publishing the same bytes in the same message sizes with the same
// PubAck window (bench/nats-peer.js raw), and against the gRPC exporter
// (bench/stream-peer.js), all in the same run, each side in its own process.
// Also the collector's rate writing the R1 stream to a file, and peak RSS.
// Every round's figures go to bench/out/nats.json, the table to bench/out/nats.md.
//   npm run bench:nats [-- --rounds 1 --batch-bytes 262144 --batch-packets 1024 --in-flight 16 --replicas 1,3]
// The message size and PubAck window apply to both publishers; the servers'
// max_payload is raised when a message of batch-bytes would not fit.
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { connect } = require('nats');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '1' },
    'batch-bytes': { type: 'string', default: '262144' },
    'batch-packets': { type: 'string', default: '1024' },
    'in-flight': { type: 'string', default: '16' },
    replicas: { type: 'string', default: '1,3' },
  },
});
const rounds = Number(args.rounds);
const publish = { batchBytes: Number(args['batch-bytes']), batchPackets: Number(args['batch-packets']), maxInFlight: Number(args['in-flight']) };
const replicaCounts = args.replicas.split(',').map(Number);
const HEADER_ROOM = 1024; // what publishPackets() keeps free of max_payload for headers
const maxPayload = Math.max(1 << 20, publish.batchBytes + HEADER_ROOM);
const COUNT = 1_000_000;
const OUT = path.join(__dirname, 'out');
const trace = path.join(OUT, 'stream.pcap');
if (!fs.existsSync(trace)) {
  fs.mkdirSync(OUT, { recursive: true });
  execFileSync(process.execPath, [path.join(__dirname, 'make-trace.js'), trace, String(COUNT)], { stdio: 'inherit' });
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Three nodes, tagged n1..n3 so that an R1 stream can be put on the node the publishers talk to. */
async function cluster(dir) {
  const ports = [await freePort(), await freePort(), await freePort()];
  const routes = [await freePort(), await freePort(), await freePort()];
  const procs = ports.map((port, i) => {
    const conf = path.join(dir, `n${i + 1}.conf`);
    const peers = routes.filter((_, j) => j !== i).map((p) => `"nats-route://127.0.0.1:${p}"`);
    fs.writeFileSync(
      conf,
      [
        `server_name: n${i + 1}`,
        `server_tags: ["n${i + 1}"]`,
        `listen: 127.0.0.1:${port}`,
        `max_payload: ${maxPayload}`,
        `jetstream { store_dir: "${path.join(dir, `n${i + 1}`)}", max_file_store: 8589934592 }`,
        `cluster { name: bench, listen: 127.0.0.1:${routes[i]}, routes: [${peers.join(', ')}] }`,
      ].join('\n'),
    );
    return spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
  });
  return { url: `nats://127.0.0.1:${ports[0]}`, stop: () => procs.forEach((p) => p.kill('SIGKILL')) };
}

async function retry(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function run(script, ...rest) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, script), ...rest.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('close', (code) => (code === 0 ? resolve(text.trim().split('\n').map((l) => JSON.parse(l))) : reject(new Error(`${script} ${rest[0]} exited ${code}`))));
  });
}

/** The gRPC exporter into bench/stream-peer.js's collector, as bench/stream.js runs it. */
async function grpc() {
  const collector = spawn(process.execPath, [path.join(__dirname, 'stream-peer.js'), 'collector'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let wake = () => {};
  collector.stdout.on('data', (d) => {
    for (const l of String(d).trim().split('\n')) lines.push(JSON.parse(l));
    wake();
  });
  const line = async (n) => {
    while (lines.length < n) await new Promise((r) => (wake = r));
    return lines[n - 1];
  };
  const { port } = await line(1);
  const [sent] = await run('stream-peer.js', 'wirecap', port, trace);
  collector.kill('SIGTERM');
  const received = await line(2);
  return { rate: sent.packets / sent.seconds, rss: sent.maxRssMB, lost: sent.packets - received.packets };
}

(async () => {
  const dir = fs.mkdtempSync(path.join(OUT, 'nats-'));
  const servers = await cluster(dir);
  const results = {};
  const push = (k, v) => (results[k] ??= []).push(v);
  let nc = null;
  try {
    nc = await retry(() => connect({ servers: servers.url }));
    const jsm = await retry(() => nc.jetstreamManager());
    for (let r = 0; r < rounds; r++) {
      for (const replicas of replicaCounts) {
        // Turn about, so that neither side always runs first on a shared machine.
        for (const kind of r % 2 === 0 ? ['raw', 'wirecap'] : ['wirecap', 'raw']) {
          const name = `B${replicas}${kind}`;
          await retry(() => jsm.streams.add({ name, subjects: [`b.${name}`], num_replicas: replicas, ...(replicas === 1 ? { placement: { tags: ['n1'] } } : {}) }));
          await retry(() => jsm.streams.info(name));
          const [p] = await run('nats-peer.js', kind, servers.url, `b.${name}`, trace, JSON.stringify(publish));
          const stored = (await jsm.streams.info(name)).state.messages;
          push(`${kind}${replicas}`, { rate: p.packets / p.seconds, mbps: fs.statSync(trace).size / 1e6 / p.seconds, rss: p.maxRssMB, cpu: p.cpuSeconds, packets: p.packets, stored });
          if (replicas === 1 && kind === 'wirecap') {
            const out = path.join(dir, 'collected.pcap');
            const [c] = await run('nats-peer.js', 'collect', servers.url, name, out, COUNT);
            push('collect', { rate: c.packets / c.seconds, rss: c.maxRssMB, packets: c.packets });
            for (const f of [out, `${out}.state`]) fs.rmSync(f, { force: true });
          }
          await jsm.streams.delete(name);
          // The next side starts with no dirty pages of this one's store to write back (an R3 run leaves 2.4 GB).
          execFileSync('sync');
        }
      }
      push('grpc', await grpc());
    }
  } finally {
    await nc?.close();
    servers.stop();
    await new Promise((r) => setTimeout(r, 500));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const median = (k, f) => {
    const xs = results[k].map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)];
  };
  const k = (x) => `${Math.round(x / 1000)}k`;
  const grpcRate = median('grpc', (x) => x.rate);
  const lines = [
    `${COUNT} packets (${(fs.statSync(trace).size / 1e6).toFixed(0)} MB trace), ${rounds} round(s), median; 3-node cluster on 127.0.0.1; node ${process.version}`,
    `messages of at most ${publish.batchPackets} packets and ${publish.batchBytes} bytes, ${publish.maxInFlight} awaiting their PubAck; max_payload ${maxPayload}`,
    '',
  ];
  lines.push('| publisher | stream | packets/s | MB/s | × raw client | × gRPC exporter | publisher CPU s | publisher peak RSS | messages stored |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const replicas of replicaCounts) {
    const raw = median(`raw${replicas}`, (x) => x.rate);
    for (const kind of ['raw', 'wirecap']) {
      const key = `${kind}${replicas}`;
      const rate = median(key, (x) => x.rate);
      lines.push(
        `| ${kind === 'raw' ? 'nats client alone' : 'wirecap publishPackets(openOffline())'} | R${replicas} | ${k(rate)} | ${median(key, (x) => x.mbps).toFixed(0)} | ${(rate / raw).toFixed(2)} | ${(rate / grpcRate).toFixed(2)} | ${median(key, (x) => x.cpu).toFixed(2)} | ${Math.max(...results[key].map((x) => x.rss)).toFixed(0)} MB | ${results[key][0].stored} |`,
      );
    }
  }
  lines.push('', '| other side | packets/s | peak RSS |', '| --- | --- | --- |');
  if (results.collect) lines.push(`| wirecap collectPackets() from the R1 stream to a pcap file | ${k(median('collect', (x) => x.rate))} | ${Math.max(...results.collect.map((x) => x.rss)).toFixed(0)} MB |`);
  lines.push(`| gRPC streamPackets(openOffline()) to a local collector (bench/stream) | ${k(grpcRate)} | ${Math.max(...results.grpc.map((x) => x.rss)).toFixed(0)} MB (exporter); lost ${results.grpc.reduce((n, x) => n + x.lost, 0)} |`);
  const text = lines.join('\n');
  console.log(text);
  fs.writeFileSync(path.join(OUT, 'nats.md'), `${text}\n`);
  fs.writeFileSync(path.join(OUT, 'nats.json'), `${JSON.stringify({ publish, maxPayload, rounds: results }, null, 1)}\n`);
})();
