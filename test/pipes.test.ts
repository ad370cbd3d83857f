// `-` for pipes: commands write capture files to standard output (read by
// tcpdump and tshark at the other end), read them from standard input, end
// cleanly when the reader goes away, and look back in time on JetStream.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { describeLive } from './helpers/live';
import { createStream, freePort, NatsCluster, startNats } from './helpers/nats';
import { capturesPort } from './helpers/sockets';
import { pcapBytes, referenceRead, syntheticPackets } from './helpers/trace';
import { markedPayloads, ROOT, sendUdp, sleep, udpSink, waitFor } from './helpers/traffic';

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const WIRECAP = `${process.execPath} ${CLI}`;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-pipes-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a bash pipeline in dir; resolves with its output once it exits (killed after 30 s). */
function pipeline(script: string): { child: ChildProcess; exit: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn('bash', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30000);
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, exit };
}

/**
 * `wirecap ARGS | READER` in bash, with wirecap's pid (to signal it) and
 * the reader's output as it comes. The pipe runs from one child to the
 * other: a pipe through this process would be read ahead by Node.
 */
function piped(args: string[], reader: string): { pid: Promise<number>; output: () => string; exit: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const pidFile = path.join(dir, `wirecap-${Date.now()}.pid`);
  const quoted = args.map((a) => `'${a}'`).join(' ');
  const run = pipeline(`( ${WIRECAP} ${quoted} 2>wirecap.err & echo $! > ${pidFile}; wait ) | ${reader}`);
  let stdout = '';
  run.child.stdout!.on('data', (d) => (stdout += d));
  const pid = (async () => {
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'), 10000, 'the pid file');
    return Number(fs.readFileSync(pidFile, 'utf8'));
  })();
  return { pid, output: () => stdout, exit: run.exit };
}

/** Sends a datagram every 50 ms until the run exits (at most 400). */
async function sendUntilExit(exit: Promise<unknown>, port: number, payloads: Buffer[]): Promise<void> {
  const done = exit.then(() => true);
  for (let i = 0; i < 400 && !(await Promise.race([done, sleep(50).then(() => false)])); i++) await sendUdp(port, [payloads[i % payloads.length]]);
}

/** The UDP payloads (after 42 bytes of headers) of a file, as libpcap reads it. */
const payloadsOf = (file: string): string[] => referenceRead(file).packets.map((p) => Buffer.from(p.hex, 'hex').subarray(42).toString());

describeLive('-w - on live captures', () => {
  test.each([
    ['dump', 'tcpdump -n -r - -w copy.pcap'],
    ['dump', 'tshark -r - -w copy.pcap -F pcap'],
    ['capture', 'tcpdump -n -r - -w copy.pcap'],
  ])('%s -w - | %s: the reader gets the packets, the summary goes to stderr, no file named -', async (command, reader) => {
    const sink = await udpSink();
    fs.rmSync(path.join(dir, 'copy.pcap'), { force: true });
    const run = pipeline(`${WIRECAP} ${command} lo udp port ${sink.port} -w - -c 5 2>wirecap.err | ${reader}`);
    await sendUntilExit(run.exit, sink.port, markedPayloads('pipe', 1));
    sink.close();
    expect((await run.exit).code).toBe(0);
    expect(payloadsOf(path.join(dir, 'copy.pcap'))).toEqual(Array(5).fill('pipe:0:'));
    const err = fs.readFileSync(path.join(dir, 'wirecap.err'), 'utf8');
    expect(err).toMatch(command === 'dump' ? /^5 packets, \d+ bytes in 1 file\(s\) \(-\); ended: maxPackets/ : /^\d+ packets captured/);
    expect(fs.existsSync(path.join(dir, '-'))).toBe(false);
  });

  test.each(['dump', 'capture'])('%s -w -: one packet sent is seen by tshark at the other end while the command still runs', async (command) => {
    const sink = await udpSink();
    const run = piped([command, 'lo', 'udp', 'port', String(sink.port), '-w', '-'], 'tshark -l -n -r - -T fields -e udp.dstport');
    const pid = await run.pid;
    try {
      await waitFor(() => capturesPort(pid, sink.port), 15000, "the capture's filter in the kernel");
      const sent = Date.now();
      await sendUdp(sink.port, [Buffer.from('one')]);
      await waitFor(() => run.output().includes(String(sink.port)), 10000, 'tshark to print the packet');
      // A figure for the notes, not a threshold: how long the packet took to reach tshark.
      process.stdout.write(`${command} -w - | tshark: one packet seen after ${Date.now() - sent} ms\n`);
      expect(capturesPort(pid, sink.port)).toBe(true);
    } finally {
      process.kill(pid, 'SIGINT');
      await run.exit;
      sink.close();
    }
    expect(run.output().trim().split('\n')).toEqual([String(sink.port)]);
  }, 30000);

  test.each(['dump', 'capture'])('%s -w - | head -c 100: the reader going away ends the command with its summary and exit code 0, no stack trace', async (command) => {
    const sink = await udpSink();
    const run = pipeline(`${WIRECAP} ${command} lo udp port ${sink.port} -w - 2>wirecap.err | head -c 100 >/dev/null; echo "status \${PIPESTATUS[0]}"`);
    await sendUntilExit(run.exit, sink.port, markedPayloads('gone', 3));
    sink.close();
    const r = await run.exit;
    expect(r.stdout.trim()).toBe('status 0');
    const err = fs.readFileSync(path.join(dir, 'wirecap.err'), 'utf8');
    expect(err).not.toMatch(/Error|\n\s+at /);
    expect(err).toMatch(command === 'dump' ? /packets, \d+ bytes in 1 file\(s\) \(-\); ended: the reader went away/ : /packets captured/);
  });
});

describe('- as standard input and output for files', () => {
  let trace: string;
  beforeAll(() => {
    trace = path.join(dir, 'trace.pcap');
    fs.writeFileSync(trace, pcapBytes(syntheticPackets(300), { nano: true }));
  });

  test('cat trace | slice -w - --start T - | tshark -r -: the window, as libpcap reads the source', () => {
    const source = referenceRead(trace).packets;
    const start = source[100].timestamp;
    const seconds = `${start / 1_000_000_000n}.${String(start % 1_000_000_000n).padStart(9, '0')}`;
    const r = spawnSync('bash', ['-c', `cat trace.pcap | ${WIRECAP} slice -w - --start ${seconds} - 2>slice.err | tshark -r - -w sliced.pcap -F pcap`], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'slice.err'), 'utf8')).toMatch(/^200 packets/);
    // tshark rewrites the file in microseconds: compare at that precision.
    const micro = (p: { timestamp: bigint; hex: string }): string => `${p.timestamp / 1000n} ${p.hex}`;
    expect(referenceRead(path.join(dir, 'sliced.pcap')).packets.map(micro)).toEqual(source.slice(100).map(micro));
  });

  test('collect -w - | tcpdump -r -: what `wirecap stream` sends reaches the reader; the summary goes to stderr', async () => {
    const port = await freePort();
    const copy = path.join(dir, 'collected.pcap');
    const run = piped(['collect', '--host', '127.0.0.1', '--port', String(port), '-w', '-'], `tcpdump -r - -w ${copy}`);
    const pid = await run.pid;
    await waitFor(() => fs.existsSync(path.join(dir, 'wirecap.err')) && fs.readFileSync(path.join(dir, 'wirecap.err'), 'utf8').includes('collecting on'), 10000, 'the collector');
    const sent = spawnSync(process.execPath, [CLI, 'stream', trace, '--to', `127.0.0.1:${port}`], { encoding: 'utf8' });
    expect(sent.stdout).toMatch(/^300 packets sent/);
    process.kill(pid, 'SIGINT');
    expect((await run.exit).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'wirecap.err'), 'utf8')).toMatch(/^300 packets in 1 streams$/m);
    const micro = (p: { timestamp: bigint; hex: string }): string => `${p.timestamp / 1000n} ${p.hex}`;
    expect(referenceRead(copy).packets.map(micro)).toEqual(referenceRead(trace).packets.map(micro));
  });

  test('read - and info - take standard input', () => {
    const input = fs.readFileSync(trace);
    const read = spawnSync(process.execPath, [CLI, 'read', '-', '-c', '2'], { input, encoding: 'utf8' });
    expect(read.stdout.trim().split('\n')).toHaveLength(2);
    const info = spawnSync(process.execPath, [CLI, 'info', '-', '--json'], { input, encoding: 'utf8' });
    expect(JSON.parse(info.stdout)).toMatchObject({ packets: 300 });
  });
});

describe('looking back in time on JetStream', () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNats(1);
    await createStream(nats.urls, 'PIPES', ['pipes.>']);
  });
  afterAll(async () => {
    await nats.stop();
  });

  /** Publishes a trace from standard input, as sensor, through the CLI. */
  function publish(packets: ReturnType<typeof syntheticPackets>, sensor: string): void {
    const r = spawnSync(process.execPath, [CLI, 'publish', '-', '--nats', nats.urls[0], '--subject', `pipes.${sensor}`, '--sensor', sensor, '--batch', '7'], {
      input: pcapBytes(packets, { nano: true }),
      encoding: 'utf8',
    });
    expect(r.stdout).toMatch(new RegExp(`^${packets.length} packets in`));
  }

  test('consume --since T --sensor edge-3 -w - | tshark -r -: exactly that sensor\'s packets published after T, and no consumer left behind', async () => {
    publish(syntheticPackets(20, 1_700_000_000_000_000_000n), 'edge-3');
    publish(syntheticPackets(20, 1_700_000_010_000_000_000n), 'edge-4');
    await sleep(1100);
    const since = new Date().toISOString();
    await sleep(100);
    const wanted = syntheticPackets(30, 1_700_000_020_000_000_000n);
    publish(wanted, 'edge-3');
    publish(syntheticPackets(25, 1_700_000_030_000_000_000n), 'edge-4');

    const run = piped(['consume', '--nats', nats.urls[0], '--stream', 'PIPES', '--since', since, '--sensor', 'edge-3', '-w', '-'], 'tshark -l -n -r - -T fields -E separator=, -e frame.time_epoch -e frame.cap_len -e frame.len');
    const pid = await run.pid;
    try {
      await waitFor(() => run.output().trim().split('\n').length >= wanted.length, 15000, 'the packets after T');
      await sleep(1500); // a further fetch: nothing else may come
    } finally {
      process.kill(pid, 'SIGINT');
      await run.exit;
    }
    const lines = run.output();
    const err = fs.readFileSync(path.join(dir, 'wirecap.err'), 'utf8');
    const got = lines.trim().split('\n');
    const expected = wanted.map((p) => `${p.timestamp / 1_000_000_000n}.${String(p.timestamp % 1_000_000_000n).padStart(9, '0')},${p.data.length},${p.len}`);
    expect(got).toEqual(expected);
    expect(err).toMatch(/^30 packets from \d+ messages of sensor edge-3 to -/m);

    const nc = await connect({ servers: nats.urls });
    try {
      const jsm = await nc.jetstreamManager();
      const left = await jsm.consumers.list('PIPES').next();
      expect(left).toEqual([]);
    } finally {
      await nc.close();
    }
  }, 40000);

  test('consumePackets({ since }) with a durable is EINVAL; a bad time is EINVAL naming the forms', async () => {
    const { consumePackets } = await import('../lib');
    expect(() => consumePackets({ servers: nats.urls, stream: 'PIPES', durable: 'd', since: '5m' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => consumePackets({ servers: nats.urls, stream: 'PIPES', since: 'yesterday' })).toThrow(/duration back \(90s, 5m, 2h, 1d\)/);
  });
});
