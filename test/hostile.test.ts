// Hostile arguments at the public API: each one is refused with a typed
// EINVAL or EFILTER that names the argument, before anything native runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileFilter, createCollector, createWriter, liveDump, openLive, openOffline, openTrace, slice, streamPackets } from '../lib';
import { describeLive } from './helpers/live';
import { pcapBytes, syntheticPackets } from './helpers/trace';

let dir: string;
let trace: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-hostile-'));
  trace = path.join(dir, 'trace.pcap');
  fs.writeFileSync(trace, pcapBytes(syntheticPackets(50)));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Values that are no count of anything. */
const NOT_COUNTS: [string, unknown][] = [
  ['negative', -1],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['a fraction', 1.5],
  ['a bigint', 4096n],
  ['a string', '4096'],
];

/** A thrown error's code and message, for toMatchObject. */
function thrown(fn: () => unknown): { code?: string; message?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('nothing was thrown');
}

async function rejected(promise: () => Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await promise();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('nothing was thrown');
}

const refusal = (code: string, name: string) => ({ code, message: expect.stringContaining(name) });

describe('numbers that are not numbers, or out of range', () => {
  const out = (): string => path.join(dir, 'out.pcap');
  const calls: [string, string, (v: unknown) => unknown][] = [
    ['openLive', 'snaplen', (v) => openLive('lo', { snaplen: v as number })],
    ['openLive', 'bufferSize', (v) => openLive('lo', { bufferSize: v as number })],
    ['openLive', 'timeoutMs', (v) => openLive('lo', { timeoutMs: v as number })],
    ['openLive', 'queueBytes', (v) => openLive('lo', { queueBytes: v as number })],
    ['liveDump', 'maxBytes', (v) => liveDump('lo', out(), { maxBytes: v as number })],
    ['liveDump', 'maxPackets', (v) => liveDump('lo', out(), { maxPackets: v as number })],
    ['liveDump', 'durationMs', (v) => liveDump('lo', out(), { durationMs: v as number })],
    ['liveDump', 'rotate.files', (v) => liveDump('lo', out(), { rotate: { fileSeconds: 1, files: v as number } })],
    ['openOffline', 'queueBytes', (v) => openOffline(trace, { queueBytes: v as number })],
    ['openOffline', 'offset', (v) => openOffline(trace, { seek: { offset: v as number } })],
    ['openTrace().seek', 'offset', (v) => openTrace(trace).seek({ offset: v as number })],
    ['createWriter', 'snaplen', (v) => createWriter(out(), { snaplen: v as number })],
    ['writer.write', 'packet.len', (v) => createWriter(out()).write({ timestamp: 1n, data: Buffer.alloc(10), len: v as number })],
    ['compileFilter', 'snaplen', (v) => compileFilter('udp', { snaplen: v as number })],
    ['streamPackets', 'segmentPackets', (v) => streamPackets('127.0.0.1:1', openOffline(trace), { segmentPackets: v as number })],
    ['streamPackets', 'deadlineMs', (v) => streamPackets('127.0.0.1:1', openOffline(trace), { deadlineMs: v as number })],
  ];
  for (const [fn, name, call] of calls) {
    test.each(NOT_COUNTS)(`${fn} ${name}: %s is EINVAL naming it`, (_, value) => {
      expect(thrown(() => call(value))).toMatchObject(refusal('EINVAL', name));
    });
  }

  test.each([['NaN', NaN], ['2', 2], ['-0.5', -0.5], ['a string', '0.5'], ['a bigint', 1n]])('seek fraction %s is EINVAL naming it', (_, value) => {
    expect(thrown(() => openTrace(trace).seek({ fraction: value as number }))).toMatchObject(refusal('EINVAL', 'fraction'));
    expect(thrown(() => openOffline(trace, { seek: { fraction: value as number } }))).toMatchObject(refusal('EINVAL', 'fraction'));
  });

  test.each([['NaN', NaN], ['Infinity', Infinity], ['a string', '1700000000000'], ['an invalid Date', new Date('x')]])(
    'seek time and slice start/end %s are EINVAL naming them',
    async (_, value) => {
      expect(thrown(() => openTrace(trace).seek({ time: value as number }))).toMatchObject(refusal('EINVAL', 'time'));
      expect(await rejected(() => slice([trace], out(), { start: value as number }))).toMatchObject(refusal('EINVAL', 'start'));
      expect(await rejected(() => slice([trace], out(), { end: value as number }))).toMatchObject(refusal('EINVAL', 'end'));
    },
  );

  test.each(NOT_COUNTS)('createCollector port and maxCaplen: %s is EINVAL naming it', async (_, value) => {
    expect(await rejected(() => createCollector({ host: '127.0.0.1', port: value as number }))).toMatchObject(refusal('EINVAL', 'port'));
    expect(await rejected(() => createCollector({ host: '127.0.0.1', maxCaplen: value as number }))).toMatchObject(refusal('EINVAL', 'maxCaplen'));
  });
});

describe('NUL characters in names, filters and paths', () => {
  const nul = 'lo\0x';
  const calls: [string, string, () => unknown][] = [
    ['openLive', 'device', () => openLive(nul)],
    ['openLive', 'filter', () => openLive('lo', { filter: 'udp\0 or tcp' })],
    ['liveDump', 'device', () => liveDump(nul, path.join(dir, 'x.pcap'))],
    ['liveDump', 'path', () => liveDump('lo', path.join(dir, 'x\0.pcap'))],
    ['openOffline', 'path', () => openOffline(`${trace}\0.pcap`)],
    ['openOffline', 'filter', () => openOffline(trace, { filter: 'udp\0' })],
    ['openTrace', 'path', () => openTrace(`${trace}\0`)],
    ['createWriter', 'path', () => createWriter(path.join(dir, 'w\0.pcap'))],
    ['compileFilter', 'filter', () => compileFilter('tcp\0udp')],
    ['streamPackets', 'target', () => streamPackets('127.0.0.1\0:1', openOffline(trace))],
  ];
  test.each(calls)('%s %s: EINVAL naming it', (_, name, call) => {
    expect(thrown(call)).toMatchObject(refusal('EINVAL', name));
  });

  test('slice inputs, output and filter: EINVAL naming them', async () => {
    expect(await rejected(() => slice([`${trace}\0`], path.join(dir, 's.pcap')))).toMatchObject(refusal('EINVAL', 'inputs[0]'));
    expect(await rejected(() => slice([trace], path.join(dir, 's\0.pcap')))).toMatchObject(refusal('EINVAL', 'output'));
    expect(await rejected(() => slice([trace], path.join(dir, 's.pcap'), { filter: 'udp\0' }))).toMatchObject(refusal('EINVAL', 'filter'));
  });
});

describe('a 1 MB filter', () => {
  const huge = 'udp or '.repeat(149797) + 'udp';
  test('openLive, openOffline, compileFilter and slice refuse it with EFILTER saying how long it is', async () => {
    expect(huge.length).toBeGreaterThanOrEqual(2 ** 20);
    for (const call of [() => openLive('lo', { filter: huge }), () => openOffline(trace, { filter: huge }), () => compileFilter(huge)]) {
      expect(thrown(call)).toMatchObject(refusal('EFILTER', `filter is ${huge.length} characters long`));
    }
    expect(await rejected(() => slice([trace], path.join(dir, 'h.pcap'), { filter: huge }))).toMatchObject(refusal('EFILTER', 'filter'));
  });
});

describe('writer.write with the wrong packet', () => {
  const file = (): string => path.join(dir, 'write.pcap');
  test('len below data.length is EINVAL naming packet.len, and nothing is written', () => {
    const writer = createWriter(file());
    expect(thrown(() => writer.write({ timestamp: 1n, data: Buffer.alloc(100), len: 99 }))).toMatchObject(refusal('EINVAL', 'packet.len'));
    writer.close();
    expect(fs.statSync(file()).size).toBe(24);
  });

  test.each([
    ['a number', 1700000000],
    ['a string', '1700000000000000000'],
    ['a Date', new Date()],
    ['negative', -1n],
    ['past what pcap holds (2106)', 2n ** 32n * 1_000_000_000n],
  ])('a timestamp that is %s is EINVAL naming packet.timestamp', (_, timestamp) => {
    const writer = createWriter(file());
    expect(thrown(() => writer.write({ timestamp: timestamp as bigint, data: Buffer.alloc(10) }))).toMatchObject(refusal('EINVAL', 'packet.timestamp'));
    writer.close();
    expect(fs.statSync(file()).size).toBe(24);
  });

  test('pcapng holds timestamps past 2106; past int64 is EINVAL', () => {
    const writer = createWriter(path.join(dir, 'late.pcapng'), { format: 'pcapng', precision: 'nano' });
    expect(() => writer.write({ timestamp: 2n ** 32n * 1_000_000_000n, data: Buffer.alloc(10) })).not.toThrow();
    expect(thrown(() => writer.write({ timestamp: 2n ** 63n, data: Buffer.alloc(10) }))).toMatchObject(refusal('EINVAL', 'packet.timestamp'));
    writer.close();
  });

  test.each([['a string', 'abc'], ['an array', [1, 2, 3]], ['null', null]])('data that is %s is EINVAL naming packet.data', (_, data) => {
    const writer = createWriter(file());
    expect(thrown(() => writer.write({ timestamp: 1n, data: data as unknown as Buffer }))).toMatchObject(refusal('EINVAL', 'packet.data'));
    writer.close();
  });
});

describeLive('inject() with what is no frame', () => {
  test.each([['a string', 'abc'], ['an array', [1, 2, 3]], ['an array-like', { length: 60 }], ['null', null], ['an empty Buffer', Buffer.alloc(0)]])(
    '%s is EINVAL naming frame',
    (_, frame) => {
      const capture = openLive('lo', { filter: 'udp port 9' });
      try {
        expect(thrown(() => capture.inject(frame as unknown as Buffer))).toMatchObject(refusal('EINVAL', 'frame'));
      } finally {
        capture.close();
      }
    },
  );

  test('setFilter with NUL or 1 MB: EINVAL / EFILTER, and the capture keeps its filter', () => {
    const capture = openLive('lo', { filter: 'udp port 9' });
    try {
      expect(thrown(() => capture.setFilter('udp\0'))).toMatchObject(refusal('EINVAL', 'filter'));
      expect(thrown(() => capture.setFilter('x'.repeat(2 ** 20)))).toMatchObject(refusal('EFILTER', 'filter'));
      expect(capture.closed).toBe(false);
    } finally {
      capture.close();
    }
  });
});
