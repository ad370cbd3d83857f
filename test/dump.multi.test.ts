import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DumpResult, liveDump, openOffline, WirecapError } from '../lib';
import { describeLive } from './helpers/live';
import { makeNetns, Netns } from './helpers/netns';
import { ISB, readPcapng } from './helpers/pcapng';
import { capinfos, tcpdumpRead, tsharkFields } from './helpers/tools';
import { runNode, sendUdp, sleep, startSender, waitFor } from './helpers/traffic';

let dir: string;
let ns: Netns;
const PORT_A = 40000 + (process.pid % 5000);
const PORT_B = PORT_A + 1;

beforeAll(() => {
  if (process.getuid?.() === 0) ns = makeNetns(2);
});
afterAll(() => ns?.remove());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-multidump-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const payloads = (tag: string, n: number, size = 100): Buffer[] =>
  Array.from({ length: n }, (_, i) => Buffer.from(`${tag}:${i}:`.padEnd(size, '.')));

/** Sends n datagrams to each pair's namespace address, alternating A and B. */
async function sendBoth(n: number, from = 0): Promise<void> {
  const [a, b] = ns.pairs;
  for (let i = from; i < from + n; i++) {
    await sendUdp(PORT_A, [Buffer.from(`A:${i}:`.padEnd(100, '.'))], 0, a.peerAddress);
    await sendUdp(PORT_B, [Buffer.from(`B:${i}:`.padEnd(100, '.'))], 0, b.peerAddress);
  }
}

/** Each packet's interface name and payload marker ("A:3"), as tshark reads them. */
function origins(file: string): { iface: string; marker: string; time: number }[] {
  return tsharkFields(file, ['frame.interface_name', 'udp.payload', 'frame.time_epoch']).map(([iface, payload, time]) => ({
    iface,
    marker: Buffer.from(payload.replace(/:/g, ''), 'hex').toString('latin1').split(':').slice(0, 2).join(':'),
    time: Number(time),
  }));
}

/** The per-device options: device A with its own filter and description, B with the shared filter. */
function twoDevices(): [{ device: string; filter: string; description: string }, string] {
  const [a, b] = ns.pairs;
  return [{ device: a.device, filter: `udp and dst port ${PORT_A}`, description: 'uplink A' }, b.device];
}

/** This process's capture threads (each named so), as /proc lists them. */
function captureThreads(): number {
  return fs.readdirSync('/proc/self/task').filter((tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'wirecap capture';
    } catch {
      return false; // ended meanwhile
    }
  }).length;
}

function expectIsbsMatch(file: string, result: DumpResult): void {
  const blocks = readPcapng(file);
  expect(blocks.isbs.map((s) => s.interfaceId)).toEqual([0, 1]);
  // The ISBs come last, after every packet.
  expect(blocks.order.slice(-2)).toEqual([5, 5]);
  blocks.isbs.forEach((isb, i) => {
    const part = result.interfaces![i];
    expect(isb.counters.get(ISB.ifrecv)).toBe(BigInt(part.stats.received!));
    expect(isb.counters.get(ISB.osdrop)).toBe(BigInt(part.stats.dropped!));
    expect(isb.counters.get(ISB.ifdrop)).toBe(BigInt(part.stats.ifDropped!));
    expect(isb.counters.get(ISB.filteraccept)).toBe(BigInt(part.stats.captured));
    expect(isb.counters.get(ISB.usrdeliv)).toBe(BigInt(part.packets));
    expect(isb.counters.get(ISB.starttime)! <= isb.counters.get(ISB.endtime)!).toBe(true);
  });
}

describeLive('liveDump() of several devices into one pcapng', () => {
  test('capinfos sees 2 interfaces; tshark names each packet\'s own device, in send order per device and time order across them', async () => {
    const file = path.join(dir, 'two.pcapng');
    const dump = liveDump(twoDevices(), file, { filter: `udp and dst port ${PORT_B}`, timeoutMs: 10 });
    await sendBoth(40);
    const result = await dump.stop();
    expect(result).toMatchObject({ reason: 'stopped', packets: 80, files: 1, mode: 'user' });
    expect(result.interfaces!.map((p) => [p.device, p.packets])).toEqual([
      [ns.pairs[0].device, 40],
      [ns.pairs[1].device, 40],
    ]);
    const info = capinfos(file);
    expect(info['Number of interfaces in file']).toBe('2');
    expect(info['Number of packets']).toBe('80');
    expect(info['Capture application']).toMatch(/^wirecap \d+\.\d+\.\d+/);
    expect(info['Capture oper-sys']).toBe(`${os.type()} ${os.release()}`);
    expect(info['Capture hardware']).toBeTruthy();

    const packets = origins(file);
    expect(packets).toHaveLength(80);
    const device = { A: ns.pairs[0].device, B: ns.pairs[1].device };
    for (const p of packets) expect(p.iface).toBe(device[p.marker[0] as 'A' | 'B']);
    for (const tag of ['A', 'B']) {
      expect(packets.filter((p) => p.marker[0] === tag).map((p) => p.marker)).toEqual(
        Array.from({ length: 40 }, (_, i) => `${tag}:${i}`),
      );
    }
    // Merged by timestamp: the file's times never go back.
    packets.slice(1).forEach((p, i) => expect(p.time).toBeGreaterThanOrEqual(packets[i].time));

    const blocks = readPcapng(file);
    expect(blocks.idbs.map((idb) => [idb.linktype, idb.snaplen])).toEqual([
      [1, 262144],
      [1, 262144],
    ]);
    const text = (idb: number, code: number): string | undefined => blocks.idbs[idb].options.get(code)?.toString('latin1');
    expect([text(0, 2), text(1, 2)]).toEqual([device.A, device.B]); // if_name
    expect(text(0, 3)).toBe('uplink A'); // if_description
    expect([text(0, 11), text(1, 11)]).toEqual([`\0udp and dst port ${PORT_A}`, `\0udp and dst port ${PORT_B}`]); // if_filter
    expect(blocks.idbs.map((idb) => idb.options.get(9)?.[0])).toEqual([6, 6]); // if_tsresol
    expect(blocks.epbInterfaces.filter((i) => i === 0)).toHaveLength(40);
    expect(tsharkFields(file, ['frame.interface_description'])[0][0]).toBe('uplink A');
  });

  test('one ISB per device at the end: ifrecv, osdrop, ifdrop equal each device\'s stats(), usrdeliv its packets written; capinfos counts them', async () => {
    const file = path.join(dir, 'isb.pcapng');
    const dump = liveDump(twoDevices(), file, { filter: `udp and dst port ${PORT_B}`, timeoutMs: 10 });
    await sendBoth(25);
    const result = await dump.stop();
    expect(result.interfaces!.map((p) => p.packets)).toEqual([25, 25]);
    expect(result.interfaces!.map((p) => p.stats.received)).toEqual([25, 25]);
    expectIsbsMatch(file, result);
    const info = execFileSync('capinfos', [file], { encoding: 'utf8' });
    expect(info.match(/Number of stat entries = 1/g)).toHaveLength(2);
  });

  test('openOffline reads such a file back with each packet\'s interface, as tshark numbers them, with or without a filter', async () => {
    const file = path.join(dir, 'back.pcapng');
    const dump = liveDump(twoDevices(), file, { filter: `udp and dst port ${PORT_B}`, timeoutMs: 10 });
    await sendBoth(30);
    await dump.stop();
    const expected = tsharkFields(file, ['frame.interface_id']).map(([id]) => Number(id));
    expect(new Set(expected)).toEqual(new Set([0, 1]));
    const read = async (filter?: string): Promise<number[]> => {
      const capture = openOffline(file, filter === undefined ? {} : { filter });
      expect(capture.interfaces.map((i) => [i.index, i.name, i.linktype])).toEqual([
        [0, ns.pairs[0].device, 1],
        [1, ns.pairs[1].device, 1],
      ]);
      const ids: number[] = [];
      for await (const p of capture) ids.push(p.interface!);
      return ids;
    };
    expect(await read()).toEqual(expected);
    // Only B's packets pass: each keeps its own interface, though records before it were skipped.
    expect(await read(`udp and dst port ${PORT_B}`)).toEqual(expected.filter((id) => id === 1));
  });

  test('limits count the whole file: maxPackets across both devices', async () => {
    const file = path.join(dir, 'limit.pcapng');
    const dump = liveDump(twoDevices(), file, { filter: `udp and dst port ${PORT_B}`, maxPackets: 15, timeoutMs: 10 });
    await sendBoth(20);
    const result = await dump.done;
    expect(result).toMatchObject({ reason: 'maxPackets', packets: 15 });
    expect(capinfos(file)['Number of packets']).toBe('15');
    expect(result.interfaces![0].packets + result.interfaces![1].packets).toBe(15);
    expect(readPcapng(file).isbs).toHaveLength(2);
    expect(fs.statSync(file).size).toBe(result.bytes);
  });

  test('rotation: every file repeats the SHB and both IDBs and ends with both ISBs', async () => {
    const dump = liveDump(twoDevices(), path.join(dir, 'rot.pcapng'), {
      filter: `udp and dst port ${PORT_B}`,
      snaplen: 200,
      rotate: { fileBytes: 2500 },
      timeoutMs: 10,
    });
    await sendBoth(30);
    await sleep(50);
    const result = await dump.stop();
    expect(result.packets).toBe(60);
    const names = fs.readdirSync(dir).sort();
    expect(names.length).toBe(result.files);
    expect(names.length).toBeGreaterThan(2);
    let packets = 0;
    let delivered = [0n, 0n];
    for (const name of names) {
      const file = path.join(dir, name);
      expect(fs.statSync(file).size).toBeLessThanOrEqual(2500);
      const info = capinfos(file);
      expect(info['Number of interfaces in file']).toBe('2');
      packets += Number(info['Number of packets']);
      const blocks = readPcapng(file);
      expect(blocks.order[0]).toBe(0x0a0d0d0a);
      expect(blocks.order.slice(1, 3)).toEqual([1, 1]);
      expect(blocks.isbs.map((s) => s.interfaceId)).toEqual([0, 1]);
      // usrdeliv counts from the start of the dump: it grows file by file.
      const now = blocks.isbs.map((s) => s.counters.get(ISB.usrdeliv)!);
      now.forEach((n, i) => expect(n >= delivered[i]).toBe(true));
      delivered = now;
      expect(tcpdumpRead(file).complaints).toBe('');
    }
    expect(packets).toBe(60);
    expect(delivered).toEqual([30n, 30n]);
  });

  test('mixed link types (an Ethernet veth and the cooked "any" device) share one file that tshark reads; openOffline reads each packet\'s interface and link type as tshark does', async () => {
    const file = path.join(dir, 'mixed.pcapng');
    const dump = liveDump(
      [
        { device: ns.pairs[0].device, filter: `udp and dst port ${PORT_A}` },
        { device: 'any', filter: `udp and dst port ${PORT_B}` },
      ],
      file,
      { timeoutMs: 10 },
    );
    await sendBoth(10);
    const result = await dump.stop();
    expect(result.interfaces!.map((p) => p.packets)).toEqual([10, 10]);
    const blocks = readPcapng(file);
    expect(blocks.idbs[0].linktype).toBe(1);
    expect([113, 276]).toContain(blocks.idbs[1].linktype); // LINUX_SLL or LINUX_SLL2
    const rows = tsharkFields(file, ['frame.interface_name', 'udp.dstport']);
    expect(rows).toHaveLength(20);
    for (const [iface, port] of rows) expect(iface).toBe(Number(port) === PORT_A ? ns.pairs[0].device : 'any');
    expect(capinfos(file)['Number of interfaces in file']).toBe('2');
    const capture = openOffline(file);
    expect(capture.interfaces.map((i) => [i.index, i.name, i.linktype])).toEqual([
      [0, ns.pairs[0].device, 1],
      [1, 'any', blocks.idbs[1].linktype],
    ]);
    const ours: number[][] = [];
    for await (const p of capture) ours.push([p.interface!, capture.interfaces[p.interface!].linktype]);
    const theirs = tsharkFields(file, ['frame.interface_id']).map(([id]) => [Number(id), blocks.idbs[Number(id)].linktype]);
    expect(ours).toEqual(theirs);
    // A filter is compiled for each interface's link type: the UDP packets of both, as tshark finds them.
    const udp: number[] = [];
    for await (const p of openOffline(file, { filter: 'udp' })) udp.push(p.interface!);
    expect(udp).toEqual(tsharkFields(file, ['frame.interface_id'], 'udp').map(([id]) => Number(id)));
    expect(udp.length).toBeGreaterThan(0);
  });

  test('a device deleted mid-dump ends only its part: the other\'s packets keep coming, the result names the lost device, the file stays valid', async () => {
    const gone = makeNetnsPairForRemoval();
    const file = path.join(dir, 'gone.pcapng');
    try {
      const dump = liveDump([gone.device, ns.pairs[1].device], file, { filter: `udp and dst port ${PORT_B}`, timeoutMs: 10 });
      await sendUdp(PORT_B, payloads('G', 5), 0, gone.peerAddress);
      await sendUdp(PORT_B, payloads('B', 10), 0, ns.pairs[1].peerAddress);
      await waitFor(() => dump.stats().packets === 15, 15000, 'both devices\' first packets');
      const running = captureThreads();
      gone.remove();
      // Its capture thread saw the device go (ENETDOWN) and ended; the other goes on.
      await waitFor(() => captureThreads() === running - 1, 15000, "the removed device's capture thread to end");
      expect(dump.ended).toBe(false);
      await sendUdp(PORT_B, payloads('C', 10), 0, ns.pairs[1].peerAddress);
      const result = await dump.stop();
      expect(result.reason).toBe('stopped');
      expect(result.interfaces![0].error).toBeInstanceOf(WirecapError);
      expect(['ENETDOWN', 'EPCAP']).toContain(result.interfaces![0].error!.code);
      expect(result.interfaces![1].error).toBeUndefined();
      expect(result.interfaces!.map((p) => p.packets)).toEqual([5, 20]);
      expect(tcpdumpRead(file).complaints).toBe('');
      expect(capinfos(file)['Number of packets']).toBe('25');
      const blocks = readPcapng(file);
      expect(blocks.isbs.map((s) => s.interfaceId)).toEqual([0, 1]);
      expect(blocks.isbs[1].counters.get(ISB.usrdeliv)).toBe(20n);
    } finally {
      gone.remove();
    }
  });

  test('wirecap dump -i a -i b -w out.pcapng -c n saves both devices into one file', async () => {
    const file = path.join(dir, 'cli.pcapng');
    const [a, b] = ns.pairs;
    const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
    const run = runNode(
      `require(${JSON.stringify(cli)})
         .main(['dump', '-i', '${a.device}', '-i', '${b.device}', 'udp', 'and', 'dst', 'port', '${PORT_B}', '-w', '${file}', '-c', '20'])
         .then((code) => { process.exitCode = code; });`,
    );
    await waitFor(() => fs.existsSync(file), 10000, 'the CLI to create its file');
    for (let i = 0; i < 10; i++) {
      await sendUdp(PORT_B, payloads('A', 1), 0, a.peerAddress);
      await sendUdp(PORT_B, payloads('B', 1), 0, b.peerAddress);
    }
    const { code, stdout } = await run;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^20 packets, \d+ bytes in 1 file\(s\) .*ended: maxPackets/m);
    expect(stdout).toContain(`  ${a.device}: 10 packets`);
    expect(capinfos(file)).toMatchObject({ 'Number of interfaces in file': '2', 'Number of packets': '20', 'File type': 'pcapng' });
  });

  test('durationMs ends a multi-device dump on time with both devices\' packets of its window', async () => {
    const file = path.join(dir, 'duration.pcapng');
    const [a, b] = ns.pairs;
    // Traffic on each device from other processes, under way before the dump opens and after it ends.
    const senders = [startSender(PORT_A, { address: a.peerAddress, gapMs: 5, marker: 'A' }), startSender(PORT_B, { address: b.peerAddress, gapMs: 5, marker: 'B' })];
    // Only the senders' datagrams leave by these devices (IPv6 off, static neighbours): their tx counters follow them.
    const sentOn = (): number[] => ns.pairs.map((p) => Number(fs.readFileSync(`/sys/class/net/${p.device}/statistics/tx_packets`, 'utf8')));
    const before = sentOn();
    await waitFor(() => sentOn().every((n, i) => n > before[i]), 15000, 'the traffic to start');
    const dump = liveDump(twoDevices(), file, { filter: `udp and dst port ${PORT_B}`, durationMs: 300, timeoutMs: 10 });
    const result = await dump.done;
    const atEnd = sentOn();
    await waitFor(() => sentOn().every((n, i) => n > atEnd[i]), 15000, 'traffic after the dump ended');
    const sent = await Promise.all(senders.map((s) => s.stop()));
    expect(result.reason).toBe('duration');
    expect(result.interfaces!.every((p, i) => p.packets > 0 && p.packets < sent[i])).toBe(true);
    const times = tsharkFields(file, ['frame.time_epoch']).map(([t]) => Number(t));
    expect(times.at(-1)! - times[0]).toBeLessThan(0.3);
    expect(readPcapng(file).isbs).toHaveLength(2);
  });

  test('a multi-device dump keeps the process alive until it ends, then the process exits', async () => {
    const [a, b] = ns.pairs;
    const file = path.join(dir, 'alive.pcapng');
    const result = await runNode(`
      const d = wirecap.liveDump(['${a.device}', '${b.device}'], ${JSON.stringify(file)}, { filter: 'udp and port 9', durationMs: 300 });
      d.done.then((r) => console.log(r.reason, r.interfaces.length));
    `);
    expect(result.stdout.trim()).toBe('duration 2');
    expect(result.code).toBe(0);
  });

  test('an AbortSignal stops a multi-device dump like stop()', async () => {
    const controller = new AbortController();
    const dump = liveDump(twoDevices(), path.join(dir, 'abort.pcapng'), {
      filter: `udp and dst port ${PORT_B}`,
      timeoutMs: 10,
      signal: controller.signal,
    });
    await sendBoth(5);
    controller.abort();
    expect(await dump.done).toMatchObject({ reason: 'stopped', packets: 10 });
  });

  test.each([
    ['format pcap', 'EINVAL', { format: 'pcap' }],
    ['mode kernel', 'ENOTSUP', { mode: 'kernel' }],
    ['a rotate.fileBytes below the headers, both ISBs and one full packet', 'EINVAL', { snaplen: 200, rotate: { fileBytes: 600 } }],
  ])('several devices with %s give %s', (_what, code, options) => {
    expect(() => liveDump(twoDevices(), path.join(dir, 'x.pcapng'), options as never)).toThrow(expect.objectContaining({ code }));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a device listed twice, an empty list or an unknown key give EINVAL; an unknown device fails with nothing left open', () => {
    const [a] = ns.pairs;
    for (const devices of [[a.device, a.device], [], [{ device: a.device, filtre: 'udp' }]]) {
      expect(() => liveDump(devices as never, path.join(dir, 'x.pcapng'))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => liveDump([a.device, 'wirecap-no-such0'], path.join(dir, 'x.pcapng'))).toThrow(WirecapError);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

/** A third veth pair in its own namespace, to be deleted by the test. */
function makeNetnsPairForRemoval(): { device: string; peerAddress: string; remove(): void } {
  const extra = makeNetns(1, 'mg', 5);
  return { ...extra.pairs[0], remove: () => extra.remove() };
}
