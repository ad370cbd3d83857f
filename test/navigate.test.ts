import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openOffline, openTrace, slice, WirecapError } from '../lib';
import { filePackets } from './helpers/tools';
import { NastyKind, NastyOptions, nastyTrace } from './helpers/nasty';
import { NASTY_KINDS, seeksAgainstScan } from './helpers/seeks';
import { pcapBytes, random, recordsOf, referenceRead, TracePacket, Truth } from './helpers/trace';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-navigate-'));
});
afterAll(() => process.env.KEEP || fs.rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000_000_000n;

/** Packets of random sizes, 1 to 999 µs apart (whole µs so micro files keep them exactly). */
function packets(n: number, rand: () => number, payload?: (i: number, size: number) => Buffer): TracePacket[] {
  let ts = T0;
  return Array.from({ length: n }, (_, i) => {
    ts += BigInt(1 + Math.floor(rand() * 999)) * 1000n;
    const size = 60 + Math.floor(rand() * 1400);
    const data = payload?.(i, size) ?? Buffer.alloc(size, i & 0xff);
    return { timestamp: ts, data };
  });
}

/** 16-byte pcap record headers that pass every check on their own: a payload that looks like records. */
function fakeHeaders(size: number, ts: bigint, le = true): Buffer {
  const b = Buffer.alloc(size);
  for (let o = 0; o + 16 <= size; o += 16) {
    const w = (v: number, at: number): number => (le ? b.writeUInt32LE(v, o + at) : b.writeUInt32BE(v, o + at));
    w(Number(ts / 1_000_000_000n), 0);
    w(123, 4);
    w(40, 8); // the next "header" would be 56 bytes on: inside this run of fakes, misaligned
    w(40, 12);
  }
  return b;
}

/** For many random times and offsets, seek() gives the linear scan's answer. */
function expectSeeksMatchLinearScan(file: string, seed: number, count = 200): void {
  const truth = recordsOf(file);
  const size = fs.statSync(file).size;
  const rand = random(seed);
  const trace = openTrace(file);
  try {
    expect(trace.firstTime).toBe(truth[0].ts);
    expect(trace.lastTime).toBe(truth[truth.length - 1].ts);
    const span = Number(truth[truth.length - 1].ts - truth[0].ts);
    for (let i = 0; i < count; i++) {
      const time = truth[0].ts - 1000n + BigInt(Math.floor(rand() * (span + 2000)));
      const expected = truth.find((r) => r.ts >= time);
      const got = trace.seek({ time });
      expect([time, got.offset, got.timestamp]).toEqual([time, expected?.offset ?? size, expected?.ts ?? null]);
      expect(got.certainty).toBe('definite');

      const offset = Math.floor(rand() * size);
      const atOffset = truth.find((r) => r.offset >= offset);
      const byOffset = trace.seek({ offset });
      expect([offset, byOffset.offset]).toEqual([offset, atOffset?.offset ?? size]);
    }
  } finally {
    trace.close();
  }
}

function write(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('seek() equals a linear scan', () => {
  test.each([
    ['microsecond, little-endian', { nano: false, bigEndian: false }],
    ['microsecond, big-endian', { nano: false, bigEndian: true }],
    ['nanosecond, little-endian', { nano: true, bigEndian: false }],
    ['nanosecond, big-endian', { nano: true, bigEndian: true }],
  ])('pcap, %s', (name, options) => {
    const file = write(`${name.replace(/\W+/g, '-')}.pcap`, pcapBytes(packets(3000, random(1)), options));
    expectSeeksMatchLinearScan(file, 2);
  });

  test('payloads that are whole pcap files of plausible records (a trace inside a trace)', () => {
    const rand = random(3);
    const inner = (i: number, size: number): Buffer => {
      const innerPackets = packets(3 + (i % 5), random(i)).map((p) => ({ ...p, data: p.data.subarray(0, 40 + (i % 30)) }));
      return Buffer.concat([pcapBytes(innerPackets), Buffer.alloc(size % 64)]);
    };
    const file = write('nested.pcap', pcapBytes(packets(2000, rand, inner)));
    expectSeeksMatchLinearScan(file, 4);
  });

  test('snaplen 262144 records that each hold a trace of hundreds of small packets, copied from a day before', () => {
    const rand = random(5);
    const dayBefore = 86_400n * 1_000_000_000n;
    const big = (i: number): Buffer =>
      i % 7 === 0
        ? pcapBytes(packets(600, random(100 + i)).map((p) => ({ timestamp: p.timestamp - dayBefore, data: p.data.subarray(0, 60) })))
        : Buffer.alloc(200, 7);
    const file = write('big-nested.pcap', pcapBytes(packets(400, rand, big), { snaplen: 262144 }));
    expectSeeksMatchLinearScan(file, 6);
  });

  test('payloads filled with plausible fake headers', () => {
    const file = write('fakes.pcap', pcapBytes(packets(2000, random(7), (i, size) => fakeHeaders(size, T0 + BigInt(i) * 1_000_000n))));
    expectSeeksMatchLinearScan(file, 8);
  });

  test('pcapng from editcap, in microseconds and in nanoseconds', () => {
    for (const nano of [false, true]) {
      const source = write(`for-ng-${nano}.pcap`, pcapBytes(packets(2000, random(9)), { nano }));
      const file = path.join(dir, `ng-${nano}.pcapng`);
      execFileSync('editcap', ['-F', 'pcapng', source, file]);
      expectSeeksMatchLinearScan(file, 10);
    }
  });
});

describe('the normal iterator continues from a seek', () => {
  test.each([['pcap', false], ['pcapng', true]])('%s: every packet from the one seek found, as a full read yields them', async (_, ng) => {
    let file = write('iterate.pcap', pcapBytes(packets(1500, random(11)), { nano: true }));
    if (ng) {
      const converted = path.join(dir, 'iterate.pcapng');
      execFileSync('editcap', ['-F', 'pcapng', file, converted]);
      file = converted;
    }
    const all: string[] = [];
    for await (const p of openOffline(file)) all.push(`${p.timestamp}:${p.data.toString('hex')}`);
    const time = recordsOf(file)[900].ts - 1n;
    const capture = openOffline(file, { seek: { time } });
    expect(capture.position).toMatchObject({ timestamp: time + 1n, certainty: 'definite' });
    const rest: string[] = [];
    for await (const p of capture) rest.push(`${p.timestamp}:${p.data.toString('hex')}`);
    expect(rest).toEqual(all.slice(900));
  });
});

describe('odd traces and bad input', () => {
  test('a clock step backwards: seek gives a packet at or after the time whose predecessor is before it', () => {
    const list = packets(3000, random(12));
    // 10 s back at packet 1500, so times in that window occur twice.
    const stepped = list.map((p, i) => (i >= 1500 ? { ...p, timestamp: p.timestamp - 10_000_000_000n } : p));
    const file = write('stepped.pcap', pcapBytes(stepped));
    const truth = recordsOf(file);
    const trace = openTrace(file);
    const rand = random(13);
    const low = truth.reduce((m, r) => (r.ts < m ? r.ts : m), truth[0].ts);
    const high = truth.reduce((m, r) => (r.ts > m ? r.ts : m), truth[0].ts);
    for (let i = 0; i < 200; i++) {
      const time = low + BigInt(Math.floor(rand() * Number(high - low)));
      const got = trace.seek({ time });
      const index = truth.findIndex((r) => r.offset === got.offset);
      if (index === -1) {
        expect(got.offset).toBe(fs.statSync(file).size);
        expect(truth[truth.length - 1].ts).toBeLessThan(time);
      } else {
        expect(truth[index].ts).toBeGreaterThanOrEqual(time);
        if (index > 0) expect(truth[index - 1].ts).toBeLessThan(time);
      }
    }
    trace.close();
  });

  test('a damaged last record: lastTime is the last complete packet; seeks into the tail end there', () => {
    const whole = pcapBytes(packets(500, random(14)));
    const file = write('cut.pcap', whole.subarray(0, whole.length - 30));
    const truth = recordsOf(file);
    const trace = openTrace(file);
    expect(trace.lastTime).toBe(truth[truth.length - 1].ts);
    const tail = trace.seek({ offset: fs.statSync(file).size - 20 });
    expect(tail).toMatchObject({ offset: fs.statSync(file).size, timestamp: null });
    const late = trace.seek({ time: truth[truth.length - 1].ts + 1n });
    expect(late.timestamp).toBeNull();
    trace.close();
  });

  test('past the end gives the end, before the start the first packet, fraction 0 and 1 the ends', () => {
    const file = write('ends.pcap', pcapBytes(packets(300, random(15))));
    const truth = recordsOf(file);
    const size = fs.statSync(file).size;
    const trace = openTrace(file);
    expect(trace.seek({ time: truth[0].ts - 10n ** 12n })).toMatchObject({ offset: 24, timestamp: truth[0].ts });
    expect(trace.seek({ time: truth[truth.length - 1].ts + 1n })).toMatchObject({ offset: size, timestamp: null });
    expect(trace.seek({ offset: size * 2 })).toMatchObject({ offset: size, timestamp: null });
    expect(trace.seek({ fraction: 0 })).toMatchObject({ offset: 24 });
    expect(trace.seek({ fraction: 1 })).toMatchObject({ offset: size, timestamp: null });
    expect(trace.durationMs).toBe(Number(truth[truth.length - 1].ts - truth[0].ts) / 1e6);
    trace.close();
  });

  test('a file with a header and no packets has no times, and every seek gives its end', () => {
    const trace = openTrace(write('empty.pcap', pcapBytes([])));
    expect([trace.firstTime, trace.lastTime, trace.durationMs]).toEqual([null, null, 0]);
    expect(trace.seek({ time: T0 })).toMatchObject({ offset: 24, timestamp: null });
    trace.close();
  });

  test('bad files and bad targets give typed errors', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (error) {
        return (error as WirecapError).code;
      }
      return undefined;
    };
    expect(code(() => openTrace(path.join(dir, 'missing.pcap')))).toBe('ENOENT');
    expect(code(() => openTrace(dir))).toBe('EISDIR');
    expect(code(() => openTrace(write('zero.pcap', Buffer.alloc(0))))).toBe('EBADFORMAT');
    expect(code(() => openTrace(write('text.pcap', Buffer.from('not a capture file at all'))))).toBe('EBADFORMAT');
    const garbage = Buffer.concat([pcapBytes([]), Buffer.alloc(300000, 0xff)]);
    const corrupt = openTrace(write('garbage.pcap', garbage));
    expect(code(() => corrupt.firstTime)).toBe('EBADFORMAT');
    corrupt.close();
    const trace = openTrace(write('targets.pcap', pcapBytes(packets(10, random(16)))));
    expect(code(() => trace.seek({ offset: -1 }))).toBe('EINVAL');
    expect(code(() => trace.seek({ fraction: 1.5 }))).toBe('EINVAL');
    expect(code(() => trace.seek({ time: Number.NaN }))).toBe('EINVAL');
    expect(code(() => trace.seek({} as never))).toBe('EINVAL');
    trace.close();
    expect(code(() => openOffline('-', { seek: { offset: 0 } }))).toBe('EINVAL');
  });
});

describe('slice()', () => {
  test('merges inputs by time, cuts the window, reads little of big inputs, and writes pcapng that tshark reads', async () => {
    const all = packets(60000, random(20));
    const a = write('slice-a.pcap', pcapBytes(all.filter((_, i) => i % 3 !== 0), { nano: true }));
    const b = write('slice-b.pcap', pcapBytes(all.filter((_, i) => i % 3 === 0), { nano: true, bigEndian: true }));
    const out = path.join(dir, 'slice.pcapng');
    const [from, to] = [all[36000].timestamp, all[36100].timestamp];
    const result = await slice([a, b], out, { start: from, end: to, format: 'pcapng' });
    const inWindow = all.slice(36000, 36100);
    expect(result.packets).toBe(100);
    expect(filePackets(out).map((p) => [p.timestamp, p.caplen])).toEqual(inWindow.map((p) => [p.timestamp, p.data.length]));
    // The start was found by seeks of a few windows, not by reading up to it.
    expect(result.seekBytes).toBeLessThan((fs.statSync(a).size + fs.statSync(b).size) / 10);
  });

  test('applies a filter, and refuses inputs of different link types with EINVAL', async () => {
    const eth = write('slice-eth.pcap', pcapBytes(packets(50, random(21))));
    const raw = write('slice-raw.pcap', pcapBytes(packets(50, random(22)), { linktype: 101 }));
    await expect(slice([eth, raw], path.join(dir, 'mixed.pcap'))).rejects.toMatchObject({ code: 'EINVAL' });
    const none = await slice([eth], path.join(dir, 'filtered.pcap'), { filter: 'tcp' });
    expect(none.packets).toBe(0);
    await expect(slice([], path.join(dir, 'x.pcap'))).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

/** Seeks checked per trace kind against the linear scan. */
/** Timestamp, caplen and bytes of every packet libpcap reads from the file. */
async function libpcapRead(file: string, from?: bigint): Promise<string[]> {
  const out: string[] = [];
  const capture = openOffline(file, from === undefined ? {} : { seek: { time: from } });
  for await (const p of capture) {
    out.push(`${p.timestamp} ${p.caplen} ${p.data.toString('hex')}`);
    if (from !== undefined && out.length === 3) break;
  }
  capture.close();
  return out;
}

describe('seeks in traces that carry other traces equal a linear scan', () => {
  test.each(NASTY_KINDS)('%s: every seek definite and right, openOffline({ seek }) reads on from the right packet', async (name, kind, options, seed) => {
    const file = write(`nasty-${seed}.${kind.startsWith('pcapng') ? 'pcapng' : 'pcap'}`, nastyTrace(kind, seed, options));
    const truth = recordsOf(file);
    // The linear scan finds the records libpcap reads, and so does wirecap's reader.
    expect(referenceRead(file).packets.map((p) => String(p.timestamp))).toEqual(truth.map((r) => String(r.ts)));
    const all = await libpcapRead(file);
    expect(all.map((line) => line.split(' ')[0])).toEqual(truth.map((r) => String(r.ts)));
    expect(seeksAgainstScan(file, truth, seed).wrong).toEqual([]);
    const rand = random(seed + 100);
    for (let i = 0; i < 20; i++) {
      const k = Math.floor(rand() * truth.length);
      expect(await libpcapRead(file, truth[k].ts)).toEqual(all.slice(k, k + 3));
    }
  }, 120_000);
});

/** Windows of a trace: the record indices [from, to) they hold; some start or end inside a run of copied-trace packets (1514 bytes). */
function windows(caplens: number[], seed: number, count: number): [number, number][] {
  const rand = random(seed);
  const inRuns = caplens.map((c, i) => i).filter((i) => caplens[i] === 1514 && caplens[i - 1] === 1514 && caplens[i + 1] === 1514);
  const pick = (): number => (inRuns.length > 0 && rand() < 0.6 ? inRuns[Math.floor(rand() * inRuns.length)] : Math.floor(rand() * caplens.length));
  return Array.from({ length: count }, () => {
    const [a, b] = [pick(), pick()].sort((x, y) => x - y);
    return [a, Math.min(caplens.length, b + 1 + Math.floor(rand() * 3))];
  });
}

describe('slice() on traces that carry other traces', () => {
  test.each([
    ['a trace copied in runs of full-size packets', 'copied-runs', { nano: true }, 41],
    ['whole pcap files in single records', 'carried-files', { bigEndian: true }, 42],
    ['pcapng whose EPBs carry pcap and pcapng files', 'pcapng-carried', {}, 43],
  ] as [string, NastyKind, NastyOptions, number][])('%s: each window holds exactly the packets libpcap reads in it', async (name, kind, options, seed) => {
    const file = write(`slice-nasty-${seed}.${kind.startsWith('pcapng') ? 'pcapng' : 'pcap'}`, nastyTrace(kind, seed, options));
    const all = referenceRead(file).packets;
    const out = path.join(dir, `slice-nasty-${seed}.out.pcap`);
    for (const [from, to] of windows(all.map((p) => p.caplen), seed, 40)) {
      const end = to < all.length ? all[to].timestamp : all[all.length - 1].timestamp + 1n;
      await slice([file], out, { start: all[from].timestamp, end });
      expect([from, to, referenceRead(out).packets.map((p) => `${p.timestamp} ${p.hex}`)]).toEqual([from, to, all.slice(from, to).map((p) => `${p.timestamp} ${p.hex}`)]);
    }
  }, 120_000);
});
