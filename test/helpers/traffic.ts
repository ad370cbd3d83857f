/** Test traffic: UDP datagrams on loopback only, bounded in count. */
import dgram from 'node:dgram';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');

/** Ethernet (lo) + IPv4 + UDP headers before a datagram's payload. */
export const UDP_HEADERS = 14 + 20 + 8;

/** A bound UDP socket on 127.0.0.1: its port is ours alone while it is open, and nothing answers with ICMP. */
export async function udpSink(): Promise<{ port: number; close(): void }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => socket.close() };
}

/**
 * Sends each payload to address:port (default 127.0.0.1; else a test
 * namespace's own address) in order, one after the other; returns when all went out.
 */
export async function sendUdp(port: number, payloads: Buffer[], gapMs = 0, address = '127.0.0.1'): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    for (const payload of payloads) {
      await new Promise<void>((resolve, reject) =>
        socket.send(payload, port, address, (err) => (err ? reject(err) : resolve())),
      );
      if (gapMs > 0) await sleep(gapMs);
    }
  } finally {
    socket.close();
  }
}

/**
 * A child node that sends "<marker>:<i>:" to address:port (default
 * 127.0.0.1) every gapMs, from i = 0, until stop() (or max datagrams):
 * traffic that goes on whatever this process is doing, so that a window
 * opened here while it runs has datagrams in it. stop() resolves with how
 * many it sent.
 */
export function startSender(port: number, options: { address?: string; gapMs?: number; marker?: string; max?: number } = {}): { stop(): Promise<number> } {
  const { address = '127.0.0.1', gapMs = 4, marker = 's', max = 5000 } = options;
  const code = `const s = require('node:dgram').createSocket('udp4'); let i = 0; let stopping = false;
    const tick = () => {
      if (stopping || i >= ${max}) { s.close(); process.stdout.write(String(i)); return; }
      s.send(Buffer.from('${marker}:' + i++ + ':'), ${port}, '${address}', () => setTimeout(tick, ${gapMs}));
    };
    process.stdin.on('end', () => (stopping = true)).resume();
    tick();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on('close', () => resolve(Number(out))));
  return {
    stop() {
      child.stdin!.end();
      return exited;
    },
  };
}

/** n payloads "<marker>:<i>:" padded with 'x' to varying sizes. */
export function markedPayloads(marker: string, n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const head = `${marker}:${i}:`;
    return Buffer.from(head + 'x'.repeat((i * 37) % 900));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check() is true; fails after timeoutMs rather than hanging. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to exit. */
  elapsedMs: number;
}

/**
 * Runs a CommonJS snippet in a child node that loads the built package
 * (dist/) as `wirecap`, optionally under a wrapper command. Killed after
 * killAfterMs so a hang fails the test instead of stalling the suite.
 */
export function runNode(
  code: string,
  options: { env?: NodeJS.ProcessEnv; killAfterMs?: number; args?: string[]; wrapper?: string[] } = {},
): Promise<ChildResult> {
  const prelude = `const wirecap = require(${JSON.stringify(ROOT)});\n`;
  const started = Date.now();
  const argv = [process.execPath, ...(options.args ?? []), '-e', prelude + code];
  if (options.wrapper) argv.unshift(...options.wrapper); // e.g. setpriv, unshare
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 15000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

/** Whether a TCP socket on local port is in state ('0A' listening, '01' established), from /proc/net/tcp. */
export function tcpState(port: number, state: '0A' | '01'): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1]?.endsWith(hex) && fields[3] === state;
    });
}
