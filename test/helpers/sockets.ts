/**
 * What the kernel says about other processes' sockets, so that a test
 * waits for the state it needs instead of sleeping: the filters on their
 * packet sockets (`ss --packet --bpf`), the bytes a TCP connection got.
 */
import { execFileSync } from 'node:child_process';

/** The classic BPF programs on process pid's packet sockets ('' for a socket without one). */
function packetFilters(pid: number): string[] {
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

/** The bytes that the TCP connections to 127.0.0.1:port have received so far (tcp_info's bytes_received, as ss prints it), summed. */
export function receivedFrom(port: number): number {
  const out = execFileSync('ss', ['--tcp', '--info', '--numeric', 'state', 'established', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' });
  return [...out.matchAll(/\bbytes_received:(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}
