/**
 * The capture helper as an unprivileged user sees it: a user made for the
 * test (uid and gid not 0, no capabilities) runs node through setpriv
 * against a granted COPY of the helper. Capture on lo and on veth pairs in
 * a namespace, filters, setFilter, stats, nano, inject, dumps with limits
 * and rotation, several devices into one pcapng, ENETDOWN, an abort and a
 * worker terminated mid-capture; and, without a grant, EPERM naming
 * `wirecap grant`. `wirecap grant`, `--revoke` and `doctor` too.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeNetns, Netns } from './helpers/netns';
import { tcpdumpRead } from './helpers/tools';
import { udpSink, waitFor } from './helpers/traffic';
import { cliAsRoot, CLI, copyHelper, makeUnprivileged, Unprivileged } from './helpers/unprivileged';
import { scenario } from './helpers/workers';

jest.setTimeout(60000);

let u: Unprivileged;
beforeAll(() => {
  u = makeUnprivileged('up');
});
afterAll(() => u?.remove());

// Scenario helpers: the node's children (the helper is one while a capture runs),
// its capability set, and a UDP sender to 127.0.0.1 or a veth peer.
// Captures that count packets take a small snaplen: libpcap's ring then
// has hundreds of small blocks, not four of 512 KiB that a burst on a busy
// machine can fill before the helper is scheduled.
const PRELUDE = `
const children = () => fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).filter((p) => {
  try { return Number(fs.readFileSync('/proc/' + p + '/stat', 'utf8').split(') ')[1].split(' ')[1]) === process.pid; } catch { return false; }
});
const capEff = () => /^CapEff:\\s*(\\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
const tx = dgram.createSocket('udp4');
await new Promise((r) => tx.bind(0, r));
tx.unref();
// Descriptors close a little after the handles that own them (sockets, workers).
const fdsBackTo = async (n) => { for (let i = 0; i < 50 && fds() !== n; i++) await pause(20); return fds() === n; };
const send = async (port, n, address = '127.0.0.1') => {
  for (let i = 0; i < n; i++) tx.send(Buffer.from('wirecap helper ' + i), port, address);
  await pause(100);
};
async function take(cap, n, ms = 5000) {
  const got = [];
  const it = cap[Symbol.asyncIterator]();
  const deadline = Date.now() + ms;
  while (got.length < n && Date.now() < deadline) {
    const r = await Promise.race([it.next(), pause(deadline - Date.now()).then(() => ({ done: true }))]);
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}
`;

function asUser(code: string, helper: string, killAfterMs = 30000) {
  return scenario(`${PRELUDE}\n${code}`, { wrapper: u.wrapper, env: { WIRECAP_HELPER: helper, HOME: u.dir }, killAfterMs });
}

test('the test user is unprivileged: uid and gid not 0, no effective, permitted or ambient capabilities', async () => {
  const r = await asUser(
    `const s = fs.readFileSync('/proc/self/status', 'utf8');
     report({ uid: process.getuid(), gid: process.getgid(), caps: ['CapEff', 'CapPrm', 'CapAmb'].map((k) => new RegExp('^' + k + ':\\\\s*(\\\\S+)', 'm').exec(s)[1]) });`,
    u.granted,
  );
  expect(r.result).toEqual({ uid: u.uid, gid: expect.any(Number), caps: ['0000000000000000', '0000000000000000', '0000000000000000'] });
  expect(r.result!.gid).not.toBe(0);
});

test('grant: root:<group>, mode 0750, cap_net_raw,cap_net_admin=ep on the helper only; --revoke takes them back', () => {
  const st = fs.statSync(u.granted);
  expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, u.gid, 0o750]);
  expect(execFileSync('getcap', [u.granted], { encoding: 'utf8' })).toMatch(/cap_net_admin,cap_net_raw=ep/);
  expect(execFileSync('getcap', [u.plain], { encoding: 'utf8' }).trim()).toBe('');
  expect(execFileSync('getcap', [process.execPath], { encoding: 'utf8' }).trim()).toBe('');

  const copy = copyHelper(path.join(u.dir, 'wirecap-helper-revoked'));
  cliAsRoot(copy, 'grant', '--group', u.group);
  expect(execFileSync('getcap', [copy], { encoding: 'utf8' })).toMatch(/=ep/);
  expect(cliAsRoot(copy, 'grant', '--revoke')).toMatch(/capabilities removed/);
  expect(execFileSync('getcap', [copy], { encoding: 'utf8' }).trim()).toBe('');
  expect(fs.statSync(copy).mode & 0o7777).toBe(0o755);
  expect(() => cliAsRoot(copy, 'grant', '--group', 'no-such-group-wirecap')).toThrow(/no group named/);
});

test('grant refuses a user who is not root, naming sudo', () => {
  const run = () =>
    execFileSync(u.wrapper[0], [...u.wrapper.slice(1), process.execPath, CLI, 'grant'], {
      encoding: 'utf8',
      stdio: 'pipe',
      env: { ...process.env, WIRECAP_HELPER: u.plain },
    });
  expect(run).toThrow(/run it as root \(sudo npx wirecap grant\)/);
});

test('doctor: the user may capture through the granted helper; without a grant it names the fix', () => {
  const doctor = (helper: string) =>
    JSON.parse(
      execFileSync(u.wrapper[0], [...u.wrapper.slice(1), process.execPath, CLI, 'doctor', '--json'], {
        encoding: 'utf8',
        env: { ...process.env, WIRECAP_HELPER: helper },
      }).toString(),
    ) as { name: string; ok: boolean; detail: string; fix?: string }[];
  const granted = doctor(u.granted);
  const find = (checks: typeof granted, name: string) => checks.find((c) => c.name === name)!;
  expect(find(granted, 'libpcap').detail).toMatch(/libpcap/);
  expect(find(granted, 'helper capabilities')).toMatchObject({ ok: true, detail: expect.stringMatching(/cap_net_admin,cap_net_raw=ep/) });
  expect(find(granted, 'helper owner').detail).toBe(`owner root:${u.group}, mode 0750`);
  expect(find(granted, 'this user')).toMatchObject({ ok: true, detail: 'may capture through the helper' });
  expect(find(granted, 'devices').detail).toMatch(/\blo\b/);

  let out = '';
  try {
    execFileSync(u.wrapper[0], [...u.wrapper.slice(1), process.execPath, CLI, 'doctor'], {
      encoding: 'utf8',
      env: { ...process.env, WIRECAP_HELPER: u.plain },
    });
  } catch (error) {
    out = (error as { stdout: string }).stdout;
  }
  expect(out).toMatch(/PROBLEM this user: may not capture: the helper has no capabilities\n\s+fix: sudo npx wirecap grant/);
});

test('without a grant: openLive, liveDump and helper: true/false all fail with EPERM naming `wirecap grant`', async () => {
  const r = await asUser(
    `const tries = {
       auto: () => wirecap.openLive('lo'),
       on: () => wirecap.openLive('lo', { helper: true }),
       off: () => wirecap.openLive('lo', { helper: false }),
       dump: () => wirecap.liveDump('lo', ${JSON.stringify(path.join(u.outDir, 'never.pcap'))}),
     };
     const out = {};
     for (const [k, f] of Object.entries(tries)) {
       try { f(); out[k] = 'opened'; } catch (e) { out[k] = { code: e.code, message: e.message }; }
     }
     report({ out, children: children().length });`,
    u.plain,
  );
  for (const k of ['auto', 'on', 'off', 'dump']) {
    expect(r.result!.out).toHaveProperty(k, { code: 'EPERM', message: expect.stringContaining('sudo npx wirecap grant') });
    expect(r.result!.out).toHaveProperty([k, 'message'], expect.stringContaining('lo'));
    expect(JSON.stringify(r.result!.out)).not.toMatch(/setcap/);
  }
  expect(r.result!.children).toBe(0);
});

test('through the granted helper on lo: filter, setFilter, stats with kernel counters, nano, inject; the helper holds no capability once open; close leaves no child, thread or fd', async () => {
  // Two ports bound here: no other suite's traffic on lo goes to them.
  const sinks = [await udpSink(), await udpSink()];
  const [port, other] = sinks.map((sink) => sink.port);
  const r = await asUser(
    `const fds0 = fds(), threads0 = threads();
     const cap = wirecap.openLive('lo', { filter: 'udp dst port ${port}', precision: 'nano', immediate: true, snaplen: 512 });
     const helperRunning = children().length;
     const helperStatus = fs.readFileSync('/proc/' + children()[0] + '/status', 'utf8');
     const helperCaps = ['CapEff', 'CapPrm', 'CapInh', 'CapAmb'].map((k) => new RegExp('^' + k + ':\\\\s*(\\\\S+)', 'm').exec(helperStatus)[1]);
     await pause(100);
     await send(${port}, 20);
     await send(${other}, 5);
     const first = await take(cap, 20);
     cap.setFilter('udp dst port ${other}');
     await send(${port}, 5);
     await send(${other}, 7);
     const second = await take(cap, 7);
     const more = await take(cap, 1, 300);
     const injected = cap.inject(Buffer.alloc(60, 1));
     const stats = cap.stats();
     cap.close();
     const after = cap.stats();
     await settle();
     report({ helperCaps, precision: cap.precision, helperRunning, first: first.length, second: second.length, more: more.length,
       ports: [first[0]?.data.readUInt16BE(36), second[0]?.data.readUInt16BE(36)],
       nanoDigits: first.every((p) => p.timestamp % 1000n !== 0n) || first.some((p) => p.timestamp % 1000n !== 0n),
       injected, stats, after, fdsBack: await fdsBackTo(fds0), threadsBack: threads() <= threads0, children: children().length, capEff: capEff() });`,
    u.granted,
  );
  expect(r.stderr).toBe('');
  const o = r.result!;
  expect(o).toMatchObject({ precision: 'nano', helperRunning: 1, first: 20, second: 7, more: 0, ports: [port, other], injected: 60 });
  expect(o).toMatchObject({ fdsBack: true, threadsBack: true, children: 0, capEff: '0000000000000000' });
  // The helper holds no capability once its device is open.
  expect(o.helperCaps).toEqual(Array(4).fill('0000000000000000'));
  const stats = o.stats as { received: number; dropped: number; captured: number };
  expect(stats.captured).toBe(27);
  expect(stats.received).toBeGreaterThanOrEqual(27);
  expect(stats.dropped).toBe(0);
  expect(o.after).toMatchObject({ captured: 27, received: stats.received });
  sinks.forEach((sink) => sink.close());
});

test('a dump with limits and rotation, written by the user: every file reads back in tcpdump', async () => {
  const sink = await udpSink(); // a port of this test's alone on lo
  const port = sink.port;
  const file = path.join(u.outDir, 'rotated.pcap');
  const r = await asUser(
    `const dumper = wirecap.liveDump('lo', ${JSON.stringify(file)}, { filter: 'udp dst port ${port}', snaplen: 200, maxPackets: 60, rotate: { fileBytes: 2048 } });
     await pause(150);
     for (let i = 0; i < 8; i++) await send(${port}, 10);
     const result = await dumper.done;
     report({ packets: result.packets, files: result.files, reason: result.reason, mode: result.mode, children: children().length });`,
    u.granted,
  );
  expect(r.result).toMatchObject({ packets: 60, reason: 'maxPackets', mode: 'user', children: 0 });
  const files = fs.readdirSync(u.outDir).filter((f) => f.startsWith('rotated'));
  expect(files.length).toBe(r.result!.files);
  expect(files.length).toBeGreaterThan(1);
  let total = 0;
  for (const f of files) {
    const read = tcpdumpRead(path.join(u.outDir, f));
    expect(read.status).toBe(0);
    expect(fs.statSync(path.join(u.outDir, f)).uid).toBe(u.uid);
    total += read.lines.length;
  }
  expect(total).toBe(60);
  sink.close();
});

describe('veth pairs in a namespace', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = makeNetns(2, 'hu', 40);
  });
  afterAll(() => ns?.remove());

  test('two devices into one pcapng through two helpers, then ENETDOWN when a veth goes away', async () => {
    const [a, b] = ns.pairs;
    const port = 43000 + (process.pid % 9000);
    const file = path.join(u.outDir, 'two.pcapng');
    // The veth goes once the capture on it is open (the scenario says so with a file).
    const ready = path.join(u.outDir, 'capturing-on-b');
    const removal = waitFor(() => fs.existsSync(ready), 30000, 'the capture on the second veth').then(() => ns.removePair(b));
    const r = await asUser(
      `const dumper = wirecap.liveDump(${JSON.stringify([a.device, b.device])}, ${JSON.stringify(file)}, { filter: 'udp dst port ${port}', maxPackets: 10, snaplen: 512 });
       const helpers = children().length;
       await pause(200);
       await send(${port}, 6, ${JSON.stringify(a.peerAddress)});
       await send(${port}, 4, ${JSON.stringify(b.peerAddress)});
       const result = await dumper.done;
       const cap = wirecap.openLive(${JSON.stringify(b.device)}, { filter: 'udp' });
       fs.writeFileSync(${JSON.stringify(ready)}, '');
       let error = null;
       try { for await (const p of cap) { void p; } } catch (e) { error = e.code; }
       await settle();
       report({ helpers, packets: result.packets, interfaces: result.interfaces.map((i) => i.packets), error, children: children().length });`,
      u.granted,
    );
    await removal;
    expect(r.result).toEqual({ helpers: 2, packets: 10, interfaces: [6, 4], error: 'ENETDOWN', children: 0 });
    const read = tcpdumpRead(file);
    expect(read.status).toBe(0);
    expect(read.lines).toHaveLength(10);
  });
});

test('an abort and a worker terminated mid-capture end their helpers and leave no thread or fd', async () => {
  const r = await asUser(
    // A first Worker leaves a /dev/null of Node's open: one runs before the count.
    `await spawnWorker('parentPort.postMessage(1)').exited;
     const fds0 = fds();
     const threads0 = await settle();
     const ac = new AbortController();
     const cap = wirecap.openLive('lo', { signal: ac.signal });
     const during = children().length;
     setTimeout(() => ac.abort(), 200);
     let aborted = null;
     try { for await (const p of cap) { void p; } } catch (e) { aborted = e.name; }
     const worker = spawnWorker("const cap = wirecap.openLive('lo', { filter: 'udp' }); parentPort.postMessage('capturing'); for await (const p of cap) { void p; }");
     await nextMessage(worker, (m) => m === 'capturing');
     const inWorker = children().length;
     const flooding = await flood(5, 5000);
     await pause(200);
     await worker.terminate();
     flooding.stop();
     await pause(100);
     report({ during, aborted, inWorker, children: children().length, fdsBack: await fdsBackTo(fds0), threads: (await settle()) - threads0 });`,
    u.granted,
  );
  expect(r.result).toEqual({ during: 1, aborted: 'AbortError', inWorker: 1, children: 0, fdsBack: true, threads: 0 });
});

test('a dump path the user may not write is refused (EACCES), though the helper could capture', async () => {
  const forbidden = fs.mkdtempSync(path.join(u.dir, 'root-only-'));
  fs.chmodSync(forbidden, 0o755);
  const secret = path.join(u.dir, 'secret.pcap');
  // An empty pcap file (its 24-byte header), readable by root only.
  fs.writeFileSync(secret, Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex'), { mode: 0o600 });
  const r = await asUser(
    `const out = {};
     try { wirecap.liveDump('lo', ${JSON.stringify(path.join(forbidden, 'x.pcap'))}); out.dump = 'opened'; } catch (e) { out.dump = e.code; }
     try { wirecap.liveDump('lo', '/root/wirecap-helper-test.pcap'); out.root = 'opened'; } catch (e) { out.root = e.code; }
     try { wirecap.openOffline(${JSON.stringify(secret)}); out.read = 'opened'; } catch (e) { out.read = e.code; }
     await settle();
     report({ out, children: children().length });`,
    u.granted,
  );
  expect(r.result).toEqual({ out: { dump: 'EACCES', root: 'EACCES', read: 'EACCES' }, children: 0 });
  expect(fs.readdirSync(forbidden)).toEqual([]);
});
