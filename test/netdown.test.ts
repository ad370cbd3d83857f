// An interface that goes away during a capture: the iterator and the dump
// both end with ENETDOWN, and the dump's file stays whole. (One merely set
// down is no failure to libpcap on Linux: the capture resumes when it comes
// back up, so there is nothing to map.) The
// veth pair's far end lives in a namespace of the test's own, which also
// receives the only traffic sent.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { liveDump, openLive, openOffline, WirecapError } from '../lib';
import { describeLive } from './helpers/live';
import { tcpdumpRead } from './helpers/tools';

const NS = `wcnd${process.pid}`;
const NEAR = 'wcnd0';
const FAR_ADDRESS = '10.213.7.2';
const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-netdown-'));
  ip('netns', 'add', NS);
});
afterAll(() => {
  ip('netns', 'del', NS);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A veth pair: NEAR here, up with 10.213.7.1, its peer in NS with FAR_ADDRESS. */
function makeVeth(): void {
  ip('link', 'add', NEAR, 'type', 'veth', 'peer', 'name', 'wcnd1', 'netns', NS);
  ip('addr', 'add', '10.213.7.1/30', 'dev', NEAR);
  ip('link', 'set', NEAR, 'up');
  ip('-n', NS, 'addr', 'add', `${FAR_ADDRESS}/30`, 'dev', 'wcnd1');
  ip('-n', NS, 'link', 'set', 'wcnd1', 'up');
}

/**
 * Captures and dumps on NEAR while 200 datagrams go to the namespace, runs
 * fault() 300 ms after the iterator's first packet (so that both captures
 * took packets before it, however late the first one came); returns what
 * the iterator threw and how the dump ended.
 */
async function captureThrough(fault: () => void, file: string): Promise<{ thrown: unknown; packets: number; dump: Awaited<ReturnType<typeof liveDump>['done']> }> {
  makeVeth();
  try {
    const capture = openLive(NEAR, { filter: 'udp', timeoutMs: 10 });
    const dump = liveDump(NEAR, file, { filter: 'udp', timeoutMs: 10 });
    const socket = dgram.createSocket('udp4');
    let sent = 0;
    const timer = setInterval(() => {
      if (sent++ < 200) socket.send(Buffer.alloc(32), 9, FAR_ADDRESS);
    }, 2);
    let faultTimer: NodeJS.Timeout | undefined;
    let thrown: unknown = null;
    let packets = 0;
    try {
      for await (const _ of capture) if (++packets === 1) faultTimer = setTimeout(fault, 300);
    } catch (error) {
      thrown = error;
    }
    const result = await dump.done;
    clearInterval(timer);
    clearTimeout(faultTimer);
    socket.close();
    return { thrown, packets, dump: result };
  } finally {
    // Wherever the fault left it (deleting either end deletes the pair).
    for (const where of [[], ['-n', NS]]) {
      try {
        ip(...where, 'link', 'del', NEAR);
      } catch {
        // not there
      }
    }
  }
}

async function expectNetdown(run: Awaited<ReturnType<typeof captureThrough>>, file: string): Promise<void> {
  expect(run.thrown).toBeInstanceOf(WirecapError);
  expect(run.thrown).toMatchObject({ code: 'ENETDOWN', message: expect.stringContaining(NEAR) });
  expect(run.packets).toBeGreaterThan(0);
  expect(run.dump).toMatchObject({ reason: 'error', error: expect.objectContaining({ code: 'ENETDOWN' }) });
  expect(tcpdumpRead(file).complaints).toBe('');
  let read = 0;
  for await (const _ of openOffline(file)) read++;
  expect(read).toBe(run.dump.packets);
  expect(read).toBeGreaterThan(0);
}

describeLive('an interface that goes away during a capture', () => {
  test('a deleted veth: the iterator throws ENETDOWN after its packets, the dump ends with ENETDOWN and a whole file', async () => {
    const file = path.join(dir, 'deleted.pcap');
    await expectNetdown(await captureThrough(() => ip('link', 'del', NEAR), file), file);
  });

  test('a veth moved to another namespace: ENETDOWN too', async () => {
    const file = path.join(dir, 'moved.pcap');
    await expectNetdown(await captureThrough(() => ip('link', 'set', NEAR, 'netns', NS), file), file);
  });
});
