// Prometheus metrics: a running command's scrape, parsed and checked by
// promtool (Prometheus' own), against the summary the command prints.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createMetrics } from '../lib';
import { FRAME_FILTER, frame, frames } from './helpers/frames';
import { describeLive } from './helpers/live';
import { makeNetns } from './helpers/netns';
import { capturePeer } from './helpers/peer';
import { capturesPort } from './helpers/sockets';
import { createStream, freePort, NatsCluster, startNats } from './helpers/nats';
import { pcapBytes, referenceRead, syntheticPackets } from './helpers/trace';
import { markedPayloads, ROOT, sendUdp, sleep, udpSink, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-metrics-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function get(port: number, at = '/metrics'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: at, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

/** promtool's verdict on an exposition: it parses it and lints names, types and help. */
function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

/** The samples of a text exposition: 'name{a="b",c="d"}' → value (labels sorted). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels = (m[2] ?? '').match(/[a-zA-Z_]\w*="(?:[^"\\]|\\.)*"/g) ?? [];
    out.set(`${m[1]}{${labels.sort().join(',')}}`, Number(m[3]));
  }
  return out;
}

/** A CLI run with its stderr as it comes; killed after 30 s. */
function start(args: string[]): { child: ChildProcess; err: () => string; exit: Promise<{ code: number | null; stdout: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30000);
  const exit = new Promise<{ code: number | null; stdout: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout });
    }),
  );
  return { child, err: () => stderr, exit };
}

/** Scrapes until check() holds for the samples; returns the last scrape's text. */
async function scrapeUntil(port: number, check: (s: Map<string, number>) => boolean, what: string): Promise<string> {
  let text = '';
  const deadline = Date.now() + 15000;
  for (;;) {
    text = (await get(port).catch(() => ({ body: '' }))).body;
    if (text !== '' && check(samples(text))) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last scrape:\n${text}`);
    await sleep(100);
  }
}

describeLive('--metrics on running commands', () => {
  test('dump --metrics: promtool passes the scrape; captured, written, bytes and files equal the summary; labelled by device', async () => {
    const sink = await udpSink();
    const port = await freePort();
    const run = start(['dump', 'lo', 'udp', 'port', String(sink.port), '-w', 'm.pcap', '--metrics', `127.0.0.1:${port}`]);
    await waitFor(() => run.err().includes('metrics on'), 10000, 'the metrics server');
    await waitFor(() => capturesPort(run.child.pid!, sink.port), 15000, "the capture's filter in the kernel");
    await sendUdp(sink.port, markedPayloads('metrics', 7));
    const text = await scrapeUntil(port, (s) => s.get('wirecap_written_packets_total{device="lo"}') === 7, '7 packets written');
    run.child.kill('SIGINT');
    const { code, stdout } = await run.exit;
    sink.close();
    expect(code).toBe(0);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    const s = samples(text);
    const summary = /^(\d+) packets, (\d+) bytes in (\d+) file\(s\)/.exec(stdout)!;
    expect(summary).not.toBeNull();
    expect(s.get('wirecap_written_packets_total{device="lo"}')).toBe(Number(summary[1]));
    expect(s.get('wirecap_written_bytes_total{device="lo"}')).toBe(Number(summary[2]));
    expect(s.get('wirecap_files_total{device="lo"}')).toBe(Number(summary[3]));
    expect(s.get('wirecap_captured_packets_total{device="lo"}')).toBe(7);
    expect(s.get('wirecap_kernel_dropped_packets_total{device="lo"}')).toBe(0);
    expect(s.get('wirecap_consumer_dropped_packets_total{device="lo"}')).toBe(0);
  });

  test('capture --metrics: captured, delivered and drops equal the statistics line it prints at the end; labelled by device', async () => {
    const sink = await udpSink();
    const port = await freePort();
    const run = start(['capture', 'lo', 'udp', 'port', String(sink.port), '--metrics', `127.0.0.1:${port}`]);
    await waitFor(() => run.err().includes('metrics on'), 10000, 'the metrics server');
    await waitFor(() => capturesPort(run.child.pid!, sink.port), 15000, "the capture's filter in the kernel");
    await sendUdp(sink.port, markedPayloads('cap', 9));
    const text = await scrapeUntil(port, (s) => s.get('wirecap_captured_packets_total{device="lo"}') === 9, '9 packets captured');
    run.child.kill('SIGINT');
    const { code, stdout } = await run.exit;
    sink.close();
    expect(code).toBe(0);
    expect(stdout.split('\n').filter((l) => l.includes(`> 127.0.0.1.${sink.port}: UDP`))).toHaveLength(9);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    const s = samples(text);
    const stats = /(\d+) packets captured, (\d+) delivered, (\d+) dropped by kernel, (\d+) dropped by wirecap's queue/.exec(run.err())!;
    expect(stats).not.toBeNull();
    expect(s.get('wirecap_captured_packets_total{device="lo"}')).toBe(Number(stats[1]));
    expect(s.get('wirecap_kernel_dropped_packets_total{device="lo"}')).toBe(Number(stats[3]));
    expect(s.get('wirecap_consumer_dropped_packets_total{device="lo"}')).toBe(Number(stats[4]));
  });

  test('serve --metrics: the capture and the packets sent to pcap-over-IP clients equal its summary', async () => {
    const sink = await udpSink();
    const port = await freePort();
    const listen = await freePort();
    const run = start(['serve', 'lo', 'udp', 'port', String(sink.port), '--listen', `127.0.0.1:${listen}`, '--metrics', `127.0.0.1:${port}`]);
    await waitFor(() => run.err().includes('serving pcap-over-IP'), 10000, 'the pcap-over-IP server');
    let received = 0;
    const client = net.connect(listen, '127.0.0.1');
    client.on('data', (d: Buffer) => (received += d.length));
    // The server writes the pcap header as it takes a client on: from then on the client gets what is captured.
    await waitFor(() => received >= 24, 15000, 'the server to take the client on');
    await waitFor(() => capturesPort(run.child.pid!, sink.port), 15000, "the capture's filter in the kernel");
    await sendUdp(sink.port, markedPayloads('serve', 6));
    const text = await scrapeUntil(port, (s) => s.get('wirecap_sent_packets_total{device="lo"}') === 6, '6 packets sent');
    run.child.kill('SIGINT');
    const { code, stdout } = await run.exit;
    client.destroy();
    sink.close();
    expect(code).toBe(0);
    expect(received).toBeGreaterThan(24 + 6 * 16);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    const s = samples(text);
    const summary = /^(\d+) packets sent to (\d+) client\(s\), (\d+) dropped for slow clients/.exec(stdout)!;
    expect(summary).not.toBeNull();
    expect(s.get('wirecap_sent_packets_total{device="lo"}')).toBe(Number(summary[1]));
    expect(s.get('wirecap_dropped_packets_total{device="lo"}')).toBe(Number(summary[3]));
    expect(s.get('wirecap_captured_packets_total{device="lo"}')).toBe(6);
  });

  describe('JetStream', () => {
    let nats: NatsCluster;
    beforeAll(async () => {
      nats = await startNats(1);
      await createStream(nats.urls, 'MET', ['met.>']);
    });
    afterAll(async () => {
      await nats.stop();
    });

    test('publish and consume --metrics: sent, messages, acks, written and files equal their summaries; publish is labelled by device and sensor', async () => {
      const sink = await udpSink();
      const port = await freePort();
      const pub = start(['publish', 'lo', 'udp', 'port', String(sink.port), '--nats', nats.urls[0], '--subject', 'met.lo', '--sensor', 'edge-3', '--metrics', `127.0.0.1:${port}`]);
      await waitFor(() => pub.err().includes('metrics on'), 10000, 'the metrics server');
      await waitFor(() => capturesPort(pub.child.pid!, sink.port), 15000, "the capture's filter in the kernel");
      await sendUdp(sink.port, markedPayloads('pub', 12), 5);
      const labels = '{device="lo",sensor="edge-3"}';
      const pubText = await scrapeUntil(port, (s) => s.get(`wirecap_sent_packets_total${labels}`) === 12, '12 packets sent');
      pub.child.kill('SIGINT');
      const published = await pub.exit;
      sink.close();
      expect(promtool(pubText)).toEqual({ status: 0, output: '' });
      const p = samples(pubText);
      const pubSummary = /^(\d+) packets in (\d+) messages to met\.lo, (\d+) dropped, (\d+) retries, (\d+) reconnects/.exec(published.stdout)!;
      expect(pubSummary).not.toBeNull();
      expect(p.get(`wirecap_sent_packets_total${labels}`)).toBe(Number(pubSummary[1]));
      expect(p.get(`wirecap_messages_total${labels}`)).toBe(Number(pubSummary[2]));
      expect(p.get(`wirecap_acks_total${labels}`)).toBe(Number(pubSummary[2]));
      expect(p.get(`wirecap_dropped_packets_total${labels}`)).toBe(Number(pubSummary[3]));
      expect(p.get(`wirecap_retries_total${labels}`)).toBe(Number(pubSummary[4]));
      expect(p.get(`wirecap_reconnects_total${labels}`)).toBe(Number(pubSummary[5]));
      expect(p.get(`wirecap_captured_packets_total${labels}`)).toBe(12);

      const cport = await freePort();
      const con = start(['consume', '--nats', nats.urls[0], '--stream', 'MET', '-w', 'met.pcap', '--metrics', `127.0.0.1:${cport}`]);
      const conText = await scrapeUntil(cport, (s) => s.get('wirecap_written_packets_total{}') === 12, '12 packets written');
      con.child.kill('SIGINT');
      const consumed = await con.exit;
      expect(promtool(conText)).toEqual({ status: 0, output: '' });
      const c = samples(conText);
      const conSummary = /^(\d+) packets from (\d+) messages in (\d+) file\(s\) \(met\.pcap\), (\d+) rejected, (\d+) duplicates skipped/.exec(consumed.stdout)!;
      expect(conSummary).not.toBeNull();
      expect(c.get('wirecap_written_packets_total{}')).toBe(Number(conSummary[1]));
      expect(c.get('wirecap_messages_total{}')).toBe(Number(conSummary[2]));
      expect(c.get('wirecap_acks_total{}')).toBe(Number(conSummary[2]));
      expect(c.get('wirecap_files_total{}')).toBe(Number(conSummary[3]));
      expect(c.get('wirecap_rejected_messages_total{}')).toBe(Number(conSummary[4]));
      expect(c.get('wirecap_redeliveries_total{}')).toBe(Number(conSummary[5]));
      expect(c.get('wirecap_claims_lost_total{}')).toBe(0);
    }, 60000);
  });
});

describeLive('--metrics on replay', () => {
  test('replay --metrics: promtool passes a scrape taken mid-replay; sent, bytes, failed, oversize, filtered and late equal the summary; labelled by device', async () => {
    const ns = makeNetns(1, 'mt');
    try {
      const device = ns.pairs[0].device;
      // 23 frames 1 ms apart (index 5 over the MTU, index 3 filtered out), then one a minute later: the scrape comes in that pause.
      const packets = frames(24, 1_000_000n);
      packets[5] = { timestamp: packets[5].timestamp, data: frame(5, 1600) };
      packets[23] = { timestamp: packets[0].timestamp + 60_000_000_000n, data: frame(23, 100) };
      fs.writeFileSync(path.join(dir, 'replay.pcap'), pcapBytes(packets, { nano: true }));
      const peer = await capturePeer(ns, device, path.join(dir, 'replay.peer.pcap'), FRAME_FILTER);
      const port = await freePort();
      const run = start(['replay', 'replay.pcap', '-i', device, '--metrics', `127.0.0.1:${port}`, 'ether[45]', '!=', '3']);
      const labels = `{device="${device}"}`;
      const text = await scrapeUntil(port, (s) => s.get(`wirecap_replay_sent_packets_total${labels}`) === 21, '21 packets sent');
      run.child.kill('SIGINT');
      const { code, stdout } = await run.exit;
      await peer.stop(Number(/^Actual: (\d+) packets/m.exec(stdout)?.[1] ?? 0));
      expect(code).toBe(0);
      expect(promtool(text)).toEqual({ status: 0, output: '' });
      const s = samples(text);
      const summary = /^Actual: (\d+) packets \((\d+) bytes\) sent in .*\n.*\n(\d+) failed, (\d+) over the MTU, (\d+) filtered out, (\d+) unsent; (\d+) late.*ended: stopped/m.exec(stdout)!;
      expect(summary).not.toBeNull();
      const [sent, bytes, failed, oversize, filtered, unsent, late] = summary.slice(1).map(Number);
      expect(s.get(`wirecap_replay_sent_packets_total${labels}`)).toBe(sent);
      expect(s.get(`wirecap_replay_sent_bytes_total${labels}`)).toBe(bytes);
      expect(s.get(`wirecap_replay_failed_packets_total${labels}`)).toBe(failed);
      expect(s.get(`wirecap_replay_oversize_packets_total${labels}`)).toBe(oversize);
      expect(s.get(`wirecap_replay_filtered_packets_total${labels}`)).toBe(filtered);
      expect(s.get(`wirecap_replay_late_packets_total${labels}`)).toBe(late);
      expect([sent, failed, oversize, filtered]).toEqual([21, 0, 1, 1]);
      // Read ahead: all 24 were taken by the scrape; the last, still due a minute later, is unsent once stopped.
      expect(s.get(`wirecap_replay_taken_packets_total${labels}`)).toBe(24);
      expect(s.get(`wirecap_replay_unsent_packets_total${labels}`)).toBe(0);
      expect(unsent).toBe(1);
      const arrived = referenceRead(path.join(dir, 'replay.peer.pcap')).packets;
      expect(arrived.length).toBe(sent);
      expect(arrived.reduce((n, p) => n + p.caplen, 0)).toBe(bytes);
    } finally {
      ns.remove();
    }
  });
});

describe('--metrics on collect', () => {
  test('collect --metrics: received packets and streams equal its summary after `wirecap stream` sent a file', async () => {
    const trace = path.join(dir, 'trace.pcap');
    fs.writeFileSync(trace, pcapBytes(syntheticPackets(300)));
    const port = await freePort();
    const mport = await freePort();
    const run = start(['collect', '--host', '127.0.0.1', '--port', String(port), '--metrics', `127.0.0.1:${mport}`]);
    await waitFor(() => run.err().includes('collecting on'), 10000, 'the collector');
    const sent = spawnSync(process.execPath, [CLI, 'stream', trace, '--to', `127.0.0.1:${port}`], { encoding: 'utf8' });
    expect(sent.stdout).toMatch(/^300 packets sent/);
    const text = await scrapeUntil(mport, (s) => s.get('wirecap_streams_total{}') === 1, 'the stream to end');
    run.child.kill('SIGINT');
    const { stdout } = await run.exit;
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    const summary = /^(\d+) packets in (\d+) streams$/m.exec(stdout)!;
    expect(samples(text).get('wirecap_received_packets_total{}')).toBe(Number(summary[1]));
    expect(samples(text).get('wirecap_streams_total{}')).toBe(Number(summary[2]));
  });
});

describeLive('--metrics on stream', () => {
  test('stream --metrics from lo into a collector: captured and sent equal its summary', async () => {
    const sink = await udpSink();
    const port = await freePort();
    const mport = await freePort();
    const collector = start(['collect', '--host', '127.0.0.1', '--port', String(port)]);
    await waitFor(() => collector.err().includes('collecting on'), 10000, 'the collector');
    const run = start(['stream', 'lo', 'udp', 'port', String(sink.port), '--to', `127.0.0.1:${port}`, '--metrics', `127.0.0.1:${mport}`]);
    await waitFor(() => run.err().includes('metrics on'), 10000, 'the metrics server');
    await waitFor(() => capturesPort(run.child.pid!, sink.port), 15000, "the capture's filter in the kernel");
    await sendUdp(sink.port, markedPayloads('stream', 8));
    const text = await scrapeUntil(mport, (s) => s.get('wirecap_sent_packets_total{device="lo"}') === 8, '8 packets sent');
    run.child.kill('SIGINT');
    const { code, stdout } = await run.exit;
    collector.child.kill('SIGINT');
    await collector.exit;
    sink.close();
    expect(code).toBe(0);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    const s = samples(text);
    const summary = /^(\d+) packets sent to \S+, (\d+) dropped, (\d+) reconnects/.exec(stdout)!;
    expect(summary).not.toBeNull();
    expect(s.get('wirecap_sent_packets_total{device="lo"}')).toBe(Number(summary[1]));
    expect(s.get('wirecap_dropped_packets_total{device="lo"}')).toBe(Number(summary[2]));
    expect(s.get('wirecap_reconnects_total{device="lo"}')).toBe(Number(summary[3]));
    expect(s.get('wirecap_captured_packets_total{device="lo"}')).toBe(8);
  });
});

describe('createMetrics', () => {
  test("a user's own registry gets the counters of the sources watched, read at each scrape; unwatching removes them", async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry });
    let written = 5;
    const unwatch = metrics.watch({ device: 'eth0', sensor: 's1' }, () => ({ written, files: 1 }));
    expect(samples(await registry.metrics()).get('wirecap_written_packets_total{device="eth0",sensor="s1"}')).toBe(5);
    written = 9;
    expect(samples(await registry.metrics()).get('wirecap_written_packets_total{device="eth0",sensor="s1"}')).toBe(9);
    unwatch();
    expect([...samples(await registry.metrics()).keys()]).toEqual([]);
  });

  test('serve() answers GET /metrics in the text format (others 404), and a port in use is EINVAL naming it', async () => {
    const metrics = createMetrics();
    metrics.watch({ device: 'lo' }, () => ({ captured: 3 }));
    const server = await metrics.serve(0);
    try {
      const r = await get(server.port);
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(samples(r.body).get('wirecap_captured_packets_total{device="lo"}')).toBe(3);
      expect(promtool(r.body)).toEqual({ status: 0, output: '' });
      expect((await get(server.port, '/')).status).toBe(404);
      await expect(createMetrics().serve(server.port)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringContaining(`127.0.0.1:${server.port}`) });
    } finally {
      await server.close();
    }
  });
});
