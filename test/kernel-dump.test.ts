// The dump's kernel mode: WinPcap's pcap_live_dump where the loaded library
// has it, an honest fallback where it refuses or lacks it. No library here
// has a kernel dump, so test/fixtures/live_dump_shim.c stands in for one:
// it wraps the real libpcap and adds pcap_live_dump / pcap_live_dump_ended
// (or, built with -DREFUSE, refuses as Npcap does). The library is loaded
// once per process, so each case runs in a child node with WIRECAP_LIBPCAP.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { liveDump, openLive } from '../lib';
import { describeLive } from './helpers/live';
import { filePackets, liveDumpShim, tcpdumpRead } from './helpers/tools';
import { runNode } from './helpers/traffic';

const PAYLOAD = 100;

let dir: string;
let SHIM: string;
let REFUSING_SHIM: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-kernel-'));
  SHIM = liveDumpShim(dir, false);
  REFUSING_SHIM = liveDumpShim(dir, true);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface ChildDump {
  endedBefore?: boolean;
  endedAfter?: boolean;
  mode?: string;
  reason?: string;
  packets?: number;
  bytes?: number;
  files?: number;
  kernelError?: string;
  thrown?: string;
  message?: string;
}

/**
 * In a child on `library`: liveDump on lo with `options`, `send` UDP
 * datagrams of PAYLOAD bytes to a socket of its own (after pauseMs), then
 * stop() if asked; returns the result as the child saw it.
 */
async function dumpInChild(library: string | null, file: string, options: object, send: number, stop = false, pauseMs = 200): Promise<ChildDump> {
  const code = `
    const dgram = require('node:dgram');
    const pause = (ms) => new Promise((r) => setTimeout(r, ms));
    const sink = dgram.createSocket('udp4');
    (async () => {
      await new Promise((r) => sink.bind(0, '127.0.0.1', r));
      const port = sink.address().port;
      const options = { filter: 'udp and dst port ' + port, timeoutMs: 10, ...${JSON.stringify(options)} };
      const d = wirecap.liveDump('lo', ${JSON.stringify(file)}, options);
      const endedBefore = d.ended;
      await pause(${pauseMs});
      const tx = dgram.createSocket('udp4');
      for (let i = 0; i < ${send}; i++) {
        await new Promise((r) => tx.send(Buffer.from(('kernel:' + i + ':').padEnd(${PAYLOAD}, '.')), port, '127.0.0.1', r));
        await pause(2);
      }
      if (${stop}) {
        await pause(300);
        await d.stop();
      }
      const result = await d.done;
      console.log(JSON.stringify({ endedBefore, endedAfter: d.ended, ...result, error: result.error && result.error.code }));
      tx.close();
    })()
      .catch((e) => console.log(JSON.stringify({ thrown: e.code, message: e.message })))
      .finally(() => sink.close());`;
  const child = await runNode(code, { env: library ? { WIRECAP_LIBPCAP: library } : {} });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`child printed ${JSON.stringify(child.stdout)}; stderr ${child.stderr}`);
  return JSON.parse(line) as ChildDump;
}

/** The datagrams' payload numbers in the file, in order. */
function payloadNumbers(file: string): number[] {
  return filePackets(file).map((p) => Number(/^kernel:(\d+):/.exec(Buffer.from(p.hex, 'hex').subarray(42).toString('latin1'))![1]));
}

const RECORD = 16 + 14 + 20 + 8 + PAYLOAD; // pcap record header + Ethernet/IPv4/UDP + payload

describeLive('a library with pcap_live_dump (the shim)', () => {
  test("auto runs the kernel dump and reports mode 'kernel'; maxPackets ends it, ended and done as in user mode", async () => {
    const file = path.join(dir, 'packets.pcap');
    const result = await dumpInChild(SHIM, file, { maxPackets: 20 }, 40);
    expect(result).toMatchObject({ endedBefore: false, endedAfter: true, mode: 'kernel', reason: 'maxPackets', packets: 20, files: 1 });
    expect(result.kernelError).toBeUndefined();
    expect(result.bytes).toBe(fs.statSync(file).size);
    expect(payloadNumbers(file)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(tcpdumpRead(file).complaints).toBe('');
  });

  test('maxBytes ends it with the file within the limit', async () => {
    const file = path.join(dir, 'bytes.pcap');
    const maxBytes = 24 + 7 * RECORD + RECORD / 2;
    const result = await dumpInChild(SHIM, file, { maxBytes, mode: 'kernel' }, 20);
    expect(result).toMatchObject({ mode: 'kernel', reason: 'maxBytes', packets: 7, bytes: 24 + 7 * RECORD });
    expect(fs.statSync(file).size).toBe(24 + 7 * RECORD);
    expect(payloadNumbers(file)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('stop() ends it with every packet sent before', async () => {
    const file = path.join(dir, 'stopped.pcap');
    const result = await dumpInChild(SHIM, file, {}, 12, true);
    expect(result).toMatchObject({ mode: 'kernel', reason: 'stopped', packets: 12 });
    expect(payloadNumbers(file)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  test('durationMs ends it', async () => {
    const file = path.join(dir, 'duration.pcap');
    // Sent at once: a late 200 ms timer on a loaded machine would put them past the window.
    const result = await dumpInChild(SHIM, file, { durationMs: 300 }, 5, false, 0);
    expect(result).toMatchObject({ mode: 'kernel', reason: 'duration', packets: 5 });
  });

  test('what the kernel dump cannot write runs in user mode, saying why', async () => {
    const file = path.join(dir, 'ng.pcapng');
    const result = await dumpInChild(SHIM, file, { format: 'pcapng', maxPackets: 3 }, 10);
    expect(result).toMatchObject({ mode: 'user', reason: 'maxPackets', packets: 3, kernelError: 'the kernel dump writes pcap files only' });
    const forced = await dumpInChild(SHIM, path.join(dir, 'rotated.pcap'), { mode: 'kernel', rotate: { fileBytes: 1e6 } }, 0);
    expect(forced).toMatchObject({ thrown: 'ENOTSUP', message: expect.stringContaining('single file') });
  });
});

describeLive('a library that refuses the kernel dump, as Npcap does', () => {
  test("auto falls back to user mode with the library's words as kernelError; limits, ended and done behave the same", async () => {
    const file = path.join(dir, 'refused.pcap');
    const result = await dumpInChild(REFUSING_SHIM, file, { maxPackets: 20 }, 40);
    expect(result).toMatchObject({
      endedBefore: false,
      endedAfter: true,
      mode: 'user',
      reason: 'maxPackets',
      packets: 20,
      kernelError: "Npcap doesn't support kernel dump mode",
    });
    expect(payloadNumbers(file)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  test("mode 'kernel' throws ENOTSUP with the library's words", async () => {
    const result = await dumpInChild(REFUSING_SHIM, path.join(dir, 'never.pcap'), { mode: 'kernel' }, 0);
    expect(result).toMatchObject({ thrown: 'ENOTSUP', message: expect.stringContaining("Npcap doesn't support kernel dump mode") });
  });
});

describeLive('libpcap without pcap_live_dump', () => {
  test("auto runs in user mode and says the library has no kernel dump; 'kernel' throws ENOTSUP", async () => {
    const file = path.join(dir, 'plain.pcap');
    const dump = liveDump('lo', file, { filter: 'udp and port 9', maxPackets: 1 });
    const result = await dump.stop();
    expect(result).toMatchObject({ mode: 'user', reason: 'stopped', kernelError: expect.stringContaining('no pcap_live_dump') });
    expect(() => liveDump('lo', file, { mode: 'kernel' })).toThrow(expect.objectContaining({ code: 'ENOTSUP' }));
  });

  test("a tee cannot be a kernel dump: 'kernel' throws ENOTSUP naming liveDump()", () => {
    const capture = openLive('lo', { filter: 'udp and port 9' });
    try {
      expect(() => capture.dump(path.join(dir, 'tee.pcap'), { mode: 'kernel' })).toThrow(
        expect.objectContaining({ code: 'ENOTSUP', message: expect.stringContaining('liveDump()') }),
      );
    } finally {
      capture.close();
    }
  });
});
