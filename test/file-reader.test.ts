/**
 * wirecap's own file reader (src-native/files/file_reader) against libpcap's
 * pcap_next_ex (test/fixtures/next_ex.c) on generated traces: alone, through
 * a test driver (test/native/read_file.cc) with buffers from 1 MiB down to
 * a few bytes so that records cross every buffer end, and through
 * openOffline().
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openOffline, Packet, WirecapError } from '../lib';
import { tsharkFields } from './helpers/tools';
import { NgBlock, NgSection, nextExReader, pcapBytes, pcapngBytes, referenceRead, syntheticPackets, TracePacket, TraceOptions } from './helpers/trace';

// Each trace runs libpcap's reader and the driver several times: slow on a busy machine.
jest.setTimeout(180000);

const ROOT = path.join(__dirname, '..');
let dir: string;
let driver: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-reader-'));
  driver = path.join(dir, 'read_file');
  execFileSync('g++', [
    '-std=c++17', '-O1', '-Wall', '-Werror', '-Wno-unused-parameter', '-I', path.join(ROOT, 'src-native'), '-o', driver,
    path.join(ROOT, 'test', 'native', 'read_file.cc'),
    path.join(ROOT, 'src-native', 'files', 'file_reader.cc'),
    path.join(ROOT, 'src-native', 'files', 'pcapng_reader.cc'),
    path.join(ROOT, 'src-native', 'platform', 'platform_posix.cc'),
    '-ldl', '-lpthread',
  ]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let serial = 0;
function writeTrace(bytes: Buffer): string {
  const file = path.join(dir, `t${serial++}`);
  fs.writeFileSync(file, bytes);
  return file;
}

const BUFFERS = [1 << 20, 4099, 333, 20];

/**
 * The driver's output for file equals next_ex's, line for line, at every
 * buffer size in nanoseconds and at one in microseconds. Returns the end line.
 */
function expectDriverMatches(file: string): string {
  const run = (command: string, args: string[]): string =>
    execFileSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const reference = run(nextExReader(), [file]);
  for (const size of BUFFERS) expect(normalize(run(driver, [file, String(size)]), 1n)).toEqual(normalize(reference, 1n));
  expect(normalize(run(driver, [file, '4099', 'micro']), 1n)).toEqual(normalize(run(nextExReader(), [file, 'micro']), 1000n));
  return reference.trimEnd().split('\n').pop() ?? '';
}

/** Timestamps as one number of nanoseconds: next_ex prints tv_sec and tv_usec as libpcap holds them. */
function normalize(out: string, fractionUnit: bigint): string[] {
  return out
    .trimEnd()
    .split('\n')
    .map((line) => {
      if (line.startsWith('end')) return line.trimEnd();
      const [sec, frac, ...rest] = line.split(' ');
      return [BigInt(sec) * 1_000_000_000n + BigInt(frac) * fractionUnit, ...rest].join(' ');
    });
}

/** openOffline() yields what libpcap yields, and fails where and as it fails. */
async function expectOpenOfflineMatches(file: string): Promise<void> {
  const reference = referenceRead(file);
  if (reference.end.startsWith('end open')) {
    expect(() => openOffline(file)).toThrow(reference.end.replace(/^end open /, ''));
    return;
  }
  const ours: Packet[] = [];
  let error: WirecapError | undefined;
  try {
    for await (const p of openOffline(file)) ours.push({ ...p, data: Buffer.from(p.data) });
  } catch (e) {
    error = e as WirecapError;
  }
  expect(ours.map((p) => [p.timestamp, p.caplen, p.len, p.data.toString('hex')])).toEqual(
    reference.packets.map((p) => [p.timestamp, p.caplen, p.len, p.hex]),
  );
  if (reference.end === 'end -2') {
    expect(error).toBeUndefined();
  } else {
    const text = reference.end.replace(/^end -1 /, '');
    expect(error?.message).toBe(`${file}: ${text}`);
    expect(error?.code).toBe(text.includes('truncated') ? 'ETRUNCATED' : 'EBADFORMAT');
  }
}

async function expectMatches(bytes: Buffer): Promise<string> {
  const file = writeTrace(bytes);
  const end = expectDriverMatches(file);
  await expectOpenOfflineMatches(file);
  return end;
}

const packets = syntheticPackets(300);

describe('pcap', () => {
  test.each([
    ['microsecond, little-endian', { nano: false, bigEndian: false }],
    ['microsecond, big-endian', { nano: false, bigEndian: true }],
    ['nanosecond, little-endian', { nano: true, bigEndian: false }],
    ['nanosecond, big-endian', { nano: true, bigEndian: true }],
  ])('%s', async (_name, options: TraceOptions) => {
    expect(await expectMatches(pcapBytes(packets, options))).toBe('end -2');
  });

  test.each([1, 65, 0, 0x7fffffff, 0x80000000])('snaplen %i, with records longer than it (libpcap cuts them to it)', async (snaplen) => {
    expect(await expectMatches(pcapBytes(packets.slice(0, 50), { snaplen }))).toBe('end -2');
  });

  test('timestamps at the edges of the fields: negative seconds, fractions past a second', async () => {
    const odd = [-1, 0x7fffffff, 0x80000000, 0xffffffff].map((sec, i) => ({ sec, frac: [0, 999999, 1000000, 0xffffffff][i] }));
    for (const nano of [false, true]) {
      const bytes = pcapBytes(odd.map((_, i) => packets[i]), { nano });
      odd.forEach(({ sec, frac }, i) => {
        const at = 24 + packets.slice(0, i).reduce((n, p) => n + 16 + p.data.length, 0);
        bytes.writeUInt32LE(sec >>> 0, at);
        bytes.writeUInt32LE(frac >>> 0, at + 4);
      });
      expect(await expectMatches(bytes)).toBe('end -2');
    }
  });

  test.each([
    ['2.2 (caplen and len swapped in every record)', 2],
    ['2.3 (swapped where caplen > len)', 3],
  ])('version %s', async (_name, minor) => {
    const bytes = pcapBytes(packets.slice(0, 40).map((p, i) => ({ ...p, len: i % 2 ? p.data.length - 5 : p.data.length + 7 })));
    bytes.writeUInt16LE(minor, 6);
    await expectMatches(bytes);
  });

  test.each([100, 101, 102, 103, 106, 113, 228])('LINKTYPE_ %i as the DLT_ libpcap maps it to', async (linktype) => {
    expect(await expectMatches(pcapBytes(packets.slice(0, 5), { linktype }))).toBe('end -2');
  });

  test('a byte-swapped file of a linktype whose headers libpcap rewrites is read by libpcap, and cannot seek', async () => {
    // Linux cooked frames of protocol 0x000c (CAN), whose ID libpcap swaps to the host's order.
    const can = packets.slice(0, 10).map((p) => ({ ...p, data: Buffer.concat([Buffer.from('0000000100060000000000000000000c12345678', 'hex'), p.data.subarray(0, 36)]) }));
    const file = writeTrace(pcapBytes(can, { linktype: 113, bigEndian: os.endianness() === 'LE' }));
    await expectOpenOfflineMatches(file);
    expect(() => openOffline(file, { seek: { offset: 100 } })).toThrow(expect.objectContaining({ code: 'ENOTSUP' }));
  });

  test("Kuznetzov's patched format: 24-byte record headers, Ethernet's snaplen 14 bytes longer", async () => {
    const parts: Buffer[] = [Buffer.from('34cdb2a102000400000000000000000040000000' + '01000000', 'hex')];
    for (const p of packets.slice(0, 20)) {
      const header = Buffer.alloc(24);
      header.writeUInt32LE(Number(p.timestamp / 1_000_000_000n), 0);
      header.writeUInt32LE(Number((p.timestamp % 1_000_000_000n) / 1000n), 4);
      header.writeUInt32LE(Math.min(p.data.length, 78), 8);
      header.writeUInt32LE(p.data.length, 12);
      header.writeUInt32LE(7, 16); // ifindex, protocol, pkt_type: skipped
      parts.push(header, p.data.subarray(0, 78));
    }
    expect(await expectMatches(Buffer.concat(parts))).toBe('end -2');
  });

  test('records larger than a slab (D-Bus allows 128 MiB) read whole', async () => {
    const big = (n: number, seed: number): TracePacket => ({ timestamp: BigInt(seed) * 1000n, data: Buffer.alloc(n, seed) });
    const trace = [big(100, 1), big(3 << 20, 2), big(60, 3), big((1 << 20) - 10, 4), big(70, 5)];
    expect(await expectMatches(pcapBytes(trace, { linktype: 231, snaplen: 128 << 20 }))).toBe('end -2');
  });

  test('a file cut at any byte of its last two records: every complete packet, then libpcap\'s error', async () => {
    const whole = pcapBytes(packets.slice(0, 6), { snaplen: 100 });
    const tail = 2 * 16 + packets[4].data.length + packets[5].data.length;
    for (let cut = whole.length - tail; cut < whole.length; cut += 13) {
      const end = await expectMatches(whole.subarray(0, cut));
      expect(end).toMatch(cut === whole.length - tail ? /^end -2/ : /^end -1 truncated dump file/);
    }
  });

  test.each([
    ['a header cut short', Buffer.from('d4c3b2a1020004000000', 'hex')],
    ['version 1', Buffer.concat([Buffer.from('d4c3b2a101000400', 'hex'), Buffer.alloc(16)])],
    ['version 2.5', Buffer.concat([Buffer.from('d4c3b2a102000500', 'hex'), Buffer.alloc(16)])],
    ['no known magic', Buffer.alloc(64, 7)],
  ])('%s fails to open as libpcap does', async (_name, bytes) => {
    expect(await expectMatches(bytes)).toMatch(/^end open /);
  });
});

const frame = (i: number, n = 60 + ((i * 37) % 200)): Buffer => Buffer.alloc(n, i & 0xff);
const epbs = (iface: number, count: number, start: bigint, step: bigint): NgBlock[] =>
  Array.from({ length: count }, (_, i) => ({ type: 'epb', iface, ticks: start + BigInt(i) * step, data: frame(i), len: frame(i).length + (i % 3), comment: i % 4 ? undefined : `packet ${i}` }));

describe('pcapng', () => {
  test.each([false, true])('big-endian %s: interfaces of every timestamp resolution and offset, options, blocks libpcap skips', async (bigEndian) => {
    const section: NgSection = {
      bigEndian,
      blocks: [
        { type: 'raw', code: 4, body: Buffer.alloc(12) }, // a name resolution block before the first interface
        { type: 'idb', iface: {} },
        { type: 'idb', iface: { tsresol: 9 } },
        { type: 'idb', iface: { tsresol: 0x80 | 20, tsoffset: 1_600_000_000n } },
        { type: 'idb', iface: { tsresol: 3, tsoffset: 5n } },
        { type: 'idb', iface: { tsresol: 19 } },
        { type: 'idb', iface: { tsresol: 0x80 | 63 } },
        ...epbs(0, 20, 1_700_000_000_000_000n, 1234n),
        ...epbs(1, 20, 1_700_000_000_123_456_789n, 987_654_321n),
        { type: 'raw', code: 0x40000bad, body: Buffer.from('a custom block') },
        ...epbs(2, 20, 123_456_789n << 20n, 77_777n),
        ...epbs(3, 20, 1_700_000_000_123n, 1n),
        ...epbs(4, 20, 17_000_000_000_000_000_000n, 3n),
        ...epbs(5, 20, 0xfedcba9876543210n, 0x10000000000n),
      ],
    };
    expect(await expectMatches(pcapngBytes([section]))).toBe('end -2');
  });

  test('several sections, each with its own interfaces', async () => {
    const sections: NgSection[] = [
      { blocks: [{ type: 'idb', iface: { tsresol: 9 } }, ...epbs(0, 30, 1_700_000_000_000_000_000n, 1_000_001n)] },
      { blocks: [{ type: 'idb', iface: {} }, ...epbs(0, 5, 1_700_000_001_000_000n, 10n)] },
      { blocks: [{ type: 'idb', iface: {} }, { type: 'idb', iface: { tsresol: 6 } }, ...epbs(1, 30, 1_700_000_002_000_000n, 999n)] },
    ];
    expect(await expectMatches(pcapngBytes(sections))).toBe('end -2');
  });

  test('simple packet blocks (cut to the snaplen, no timestamps) and obsolete packet blocks', async () => {
    const blocks: NgBlock[] = [
      { type: 'idb', iface: { snaplen: 100 } },
      ...Array.from({ length: 10 }, (_, i): NgBlock => ({ type: 'spb', data: frame(i, 100), len: 100 + i * 50 })),
      { type: 'pb', iface: 0, ticks: 1_700_000_000_000_000n, data: frame(3, 90) },
      ...epbs(0, 5, 1_700_000_001_000_000n, 10n).map((b) => ({ ...b, data: frame(1, 100), len: 1500 })),
      { type: 'spb', data: frame(1, 40) },
    ];
    expect(await expectMatches(pcapngBytes([{ blocks }]))).toBe('end -2');
  });

  test.each<[string, NgSection[]]>([
    ['sections of different byte orders', [{ blocks: [{ type: 'idb', iface: {} }, ...epbs(0, 5, 1n, 1n)] }, { bigEndian: true, blocks: [{ type: 'idb', iface: {} }] }]],
    ['a packet on an interface no block described', [{ blocks: [{ type: 'idb', iface: {} }, ...epbs(0, 5, 1n, 1n), ...epbs(1, 1, 1n, 1n)] }]],
    ['a caplen larger than the snaplen', [{ blocks: [{ type: 'idb', iface: { snaplen: 64 } }, ...epbs(0, 5, 1n, 1n).map((b) => ({ ...b, data: frame(1, 64) })), { type: 'epb', iface: 0, ticks: 9n, data: frame(9, 65) }]}]],
    ['a caplen running past its block', [{ blocks: [{ type: 'idb', iface: {} }, ...epbs(0, 5, 1n, 1n), { type: 'epb', iface: 0, ticks: 9n, data: frame(9, 64), caplen: 90 }] }]],
    ['an if_tsresol too fine', [{ blocks: [{ type: 'idb', iface: {} }, ...epbs(0, 5, 1n, 1n), { type: 'idb', iface: { tsresol: 20 } }] }]],
    ['a packet before any interface', [{ blocks: [...epbs(0, 1, 1n, 1n), { type: 'idb', iface: {} }] }]],
    ['no interface at all', [{ blocks: [{ type: 'raw', code: 4, body: Buffer.alloc(8) }] }]],
  ])('%s: the packets before it, then libpcap\'s error', async (_name, sections) => {
    expect(await expectMatches(pcapngBytes(sections))).toMatch(/^end (-1|open) ./);
  });

  // libpcap refuses these files (one linktype and snaplen per pcap_t); tshark is the reference.
  const mixed: NgSection[] = [
    {
      blocks: [
        { type: 'idb', iface: {} },
        ...epbs(0, 5, 1_700_000_000_000_000n, 10n),
        { type: 'idb', iface: { linktype: 101, snaplen: 9000, tsresol: 9 } },
        ...epbs(1, 5, 1_700_000_000_000_000_100n, 10n),
        ...epbs(0, 3, 1_700_000_000_000_100n, 10n),
      ],
    },
    { blocks: [{ type: 'idb', iface: { linktype: 101, snaplen: 0 } }, ...epbs(0, 4, 1_700_000_001_000_000n, 10n)] },
  ];

  test('interfaces of other linktypes and snaplens, after the first packet and in a later section: each packet has its own, as tshark numbers them', async () => {
    const file = writeTrace(pcapngBytes(mixed));
    const capture = openOffline(file);
    const table = (): number[][] => capture.interfaces.map((i) => [i.index, i.section, i.linktype, i.snaplen, i.tsresol]);
    expect(table()).toEqual([[0, 0, 1, 262144, 6]]); // only the one before the first packet, at open
    expect(capture.linktype).toBe(1);
    const ids: number[] = [];
    const ours: string[][] = [];
    for await (const p of capture) {
      ids.push(p.interface!);
      const iface = capture.interfaces[p.interface!];
      // tshark numbers a section's interfaces from 0: an index less the section's first one.
      const inSection = p.interface! - capture.interfaces.findIndex((i) => i.section === iface.section);
      ours.push([String(iface.section), String(inSection), String(capture.linktypeOf(p)), String(p.caplen), String(p.len), String(p.timestamp)]);
    }
    expect(ids.join('')).toBe('00000111110002222');
    expect(table()).toEqual([[0, 0, 1, 262144, 6], [1, 0, 101, 9000, 9], [2, 1, 101, 0, 6]]);
    // WTAP_ENCAP_ETHERNET is 1, WTAP_ENCAP_RAW_IP 7.
    const encap: Record<string, string> = { '1': '1', '7': '101' };
    const fields = ['frame.section_number', 'frame.interface_id', 'frame.encap_type', 'frame.cap_len', 'frame.len', 'frame.time_epoch'];
    const rows = tsharkFields(file, fields);
    const theirs = rows.map(([section, id, type, caplen, len, time]) => [
      String(Number(section) - Number(rows[0][0])),
      id,
      encap[type],
      caplen,
      len,
      String(BigInt(time.split('.')[0]) * 10n ** 9n + BigInt(time.split('.')[1].padEnd(9, '0'))),
    ]);
    expect(ours).toEqual(theirs);
  });

  test('a filter on interfaces of several linktypes, known at open or met later, is compiled for each link type as it comes', async () => {
    const early = writeTrace(pcapngBytes([{ blocks: [{ type: 'idb', iface: {} }, { type: 'idb', iface: { linktype: 101 } }, ...epbs(0, 3, 1n, 1n), ...epbs(1, 2, 9n, 1n)] }]));
    const ids = async (file: string, filter: string): Promise<number[]> => {
      const seen: number[] = [];
      for await (const p of openOffline(file, { filter })) seen.push(p.interface!);
      return seen;
    };
    expect(await ids(early, 'greater 1')).toEqual([0, 0, 0, 1, 1]);
    const late = writeTrace(pcapngBytes(mixed));
    const all: number[] = [];
    for await (const p of openOffline(late)) all.push(p.interface!);
    expect(await ids(late, 'greater 1')).toEqual(all);
    expect(new Set(all).size).toBeGreaterThan(1); // the later section's interface, of link type 101, is among them
  });

  test('singleLinktype on interfaces of several linktypes is typed ENOTSUP: at open when they precede the first packet, else after the packets before the other type', async () => {
    const options = { singleLinktype: true };
    const early = writeTrace(pcapngBytes([{ blocks: [{ type: 'idb', iface: {} }, { type: 'idb', iface: { linktype: 101 } }, ...epbs(0, 3, 1n, 1n)] }]));
    expect(() => openOffline(early, options)).toThrow(expect.objectContaining({ code: 'ENOTSUP', message: expect.stringMatching(/as one link type: its interfaces have several/) }));
    const capture = openOffline(writeTrace(pcapngBytes(mixed)), options);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const p of capture) seen.push(p.interface!);
      })(),
    ).rejects.toMatchObject({ code: 'ENOTSUP', message: expect.stringMatching(/as one link type: its interfaces have several/) });
    expect(seen).toEqual([0, 0, 0, 0, 0]);
  });

  test('a dump of such a file (one interface) writes the packets before the other linktype, then ends with ENOTSUP; tshark reads what it wrote', async () => {
    const capture = openOffline(writeTrace(pcapngBytes(mixed)));
    const out = path.join(dir, 'mixed-dump.pcap');
    const dumper = capture.dump(out);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const p of capture) seen.push(p.interface!);
      })(),
    ).rejects.toMatchObject({ code: 'ENOTSUP', message: expect.stringMatching(/cannot dump .* as one link type/) });
    expect(seen).toEqual([0, 0, 0, 0, 0]);
    const result = await dumper.done;
    expect([result.packets, result.reason, result.error?.code]).toEqual([5, 'error', 'ENOTSUP']);
    expect(tsharkFields(out, ['frame.encap_type'])).toEqual([['1'], ['1'], ['1'], ['1'], ['1']]);
  });

  test('damaged block lengths and a file cut at any byte of its last blocks', async () => {
    const whole = pcapngBytes([{ blocks: [{ type: 'idb', iface: {} }, ...epbs(0, 8, 1_700_000_000_000_000n, 1n)] }]);
    const last = whole.readUInt32LE(whole.length - 4);
    for (let cut = whole.length - 2 * last - 8; cut < whole.length; cut += 11) {
      expect(await expectMatches(whole.subarray(0, cut))).toMatch(/^end (-2|-1 truncated pcapng dump file)/);
    }
    const at = whole.length - last;
    for (const [offset, value] of [[4, 7], [4, 30], [last - 4, last + 4], [4, 0x7ffffffc]]) {
      const bad = Buffer.from(whole);
      bad.writeUInt32LE(value, at + offset);
      expect(await expectMatches(bad)).toMatch(/^end -1 /);
    }
  });
});
