/**
 * A capture on the far end of a veth pair, inside its namespace, by
 * tcpdump (libpcap) with nanosecond timestamps: what arrived there, as an
 * independent witness of what was sent. Also the peer's kernel counters.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { Netns } from './netns';

export interface PeerCapture {
  /**
   * Stops tcpdump once its file holds `expected` packets (the sender's
   * count; it writes each packet as it takes it), or after 10 s if it never
   * does (the test's comparison then shows what is missing). Resolves with
   * its stderr summary.
   */
  stop(expected: number): Promise<string>;
}

/** The whole records in a pcap file that is still being written. */
function recordsIn(file: string): number {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return 0; // not created yet
  }
  let n = 0;
  for (let at = 24; at + 16 <= data.length; n++) {
    at += 16 + data.readUInt32LE(at + 8);
    if (at > data.length) break;
  }
  return n;
}

/** The namespace end of pair `device` is `${device}p` (see makeNetns). */
export function peerName(device: string): string {
  return `${device}p`;
}

/** Starts tcpdump on the peer of device, writing file; resolves once it listens. */
export async function capturePeer(ns: Netns, device: string, file: string, filter: string[] = []): Promise<PeerCapture> {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns.name, 'tcpdump', '-n', '-i', peerName(device), '-w', file, '--time-stamp-precision=nano', '--immediate-mode', '-B', '65536', '-U', ...filter],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10000);
    const check = (): void => {
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr.on('data', check);
    child.on('exit', () => reject(new Error(`tcpdump exited: ${stderr}`)));
    check();
  });
  return {
    async stop(expected) {
      // What the sender sent may still be in tcpdump's ring: wait until it took it.
      const deadline = Date.now() + 10000;
      while (recordsIn(file) < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      child.kill('SIGINT');
      await exited;
      return stderr;
    },
  };
}

/** The peer's received packets (its interface's rx counter). */
export function peerReceived(ns: Netns, device: string): number {
  const out = execFileSync('ip', ['netns', 'exec', ns.name, 'cat', `/sys/class/net/${peerName(device)}/statistics/rx_packets`], { encoding: 'utf8' });
  return Number(out.trim());
}
