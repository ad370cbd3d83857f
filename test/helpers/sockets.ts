/**
 * What the kernel says about another process's capture, so that a test
 * waits for the state it needs instead of sleeping: the filters on its
 * packet sockets (from `ss --packet --bpf`) and the signals it catches.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** The classic BPF programs on process pid's packet sockets ('' for a socket without one). */
export function packetFilters(pid: number): string[] {
  const out = execFileSync('ss', ['--packet', '--bpf', '--processes', '--numeric'], { encoding: 'utf8' });
  const filters: string[] = [];
  let ours = false;
  for (const line of out.split('\n')) {
    if (/^\s*bpf filter/.test(line)) {
      if (ours) filters[filters.length - 1] = line;
    } else if (line.trim() !== '') {
      ours = new RegExp(`[,(]pid=${pid},`).test(line);
      if (ours) filters.push('');
    }
  }
  return filters;
}

/**
 * Whether process pid holds a packet socket whose kernel filter compares a
 * field with port (BPF_JEQ k=port): its capture is open and the filter that
 * names port is in place, so what is sent to port from now on is captured.
 * (libpcap opens the socket first, and puts the filter on after.)
 */
export function capturesPort(pid: number, port: number): boolean {
  return packetFilters(pid).some((f) => new RegExp(`\\b0x15 \\d+ \\d+ ${port},`).test(f));
}

/** Whether process pid has a handler for signal (its SigCgt mask in /proc). */
export function catches(pid: number, signal: 'SIGINT' | 'SIGTERM'): boolean {
  const number = signal === 'SIGINT' ? 2 : 15;
  try {
    const mask = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]}`);
    return ((mask >> BigInt(number - 1)) & 1n) === 1n;
  } catch {
    return false; // gone
  }
}

/** The bytes that the TCP connections to 127.0.0.1:port have received so far (tcp_info's bytes_received, as ss prints it), summed. */
export function receivedFrom(port: number): number {
  const out = execFileSync('ss', ['--tcp', '--info', '--numeric', 'state', 'established', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' });
  return [...out.matchAll(/\bbytes_received:(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}
