/** Independent readers of capture files: tcpdump and Wireshark's tshark/capinfos. */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

export interface FilePacket {
  timestamp: bigint;
  caplen: number;
  len: number;
  /** The frame's bytes in hex. */
  hex: string;
}

/**
 * Every packet of a file: timestamps and lengths as tshark reads them,
 * bytes as tcpdump -xx dumps them.
 */
export function filePackets(file: string): FilePacket[] {
  const fields = execFileSync(
    'tshark',
    ['-r', file, '-n', '-T', 'fields', '-E', 'separator=,', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len'],
    { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const dump = execFileSync('tcpdump', ['-n', '-xx', '-r', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const frames: string[] = [];
  for (const line of dump.split('\n')) {
    const hex = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4} ?)+)/.exec(line);
    if (hex) frames[frames.length - 1] += hex[1].replace(/ /g, '');
    else if (line.length > 0) frames.push('');
  }
  return fields
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line, i) => {
      const [epoch, caplen, len] = line.split(',');
      const [seconds, fraction = ''] = epoch.split('.');
      return {
        timestamp: BigInt(seconds) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9)),
        caplen: Number(caplen),
        len: Number(len),
        hex: frames[i],
      };
    });
}

/** capinfos -M output as key → value ("Number of packets" → "100"). */
export function capinfos(file: string): Record<string, string> {
  const out = execFileSync('capinfos', ['-M', file], { encoding: 'utf8' });
  const info: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([^:]+):\s+(.*)$/.exec(line);
    if (m) info[m[1].trim()] = m[2].trim();
  }
  return info;
}

/** tcpdump -r: the packet lines, and whatever it said on stderr beyond its banner. */
export function tcpdumpRead(file: string): { lines: string[]; complaints: string; status: number | null } {
  const result = spawnSync('tcpdump', ['-n', '-r', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const complaints = result.stderr
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('reading from file'))
    .join('\n');
  return { lines: result.stdout.split('\n').filter((l) => l.length > 0), complaints, status: result.status };
}

/**
 * test/fixtures/live_dump_shim.c built into dir: the real libpcap plus a
 * pcap_live_dump, or (refuse) one that refuses as Npcap does. Its path, for
 * WIRECAP_LIBPCAP.
 */
export function liveDumpShim(dir: string, refuse: boolean): string {
  const out = path.join(dir, refuse ? 'live_dump_refusing_shim.so' : 'live_dump_shim.so');
  const source = path.join(__dirname, '..', 'fixtures', 'live_dump_shim.c');
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', ...(refuse ? ['-DREFUSE'] : []), '-o', out, source, '-lpcap', '-lpthread', '-ldl']);
  return out;
}

/** test/fixtures/sendqueue_shim.c built into dir: the real libpcap plus WinPcap's send queues. Its path, for WIRECAP_LIBPCAP. */
export function sendQueueShim(dir: string): string {
  const out = path.join(dir, 'sendqueue_shim.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', out, path.join(__dirname, '..', 'fixtures', 'sendqueue_shim.c'), '-lpcap']);
  return out;
}

/** tshark -T fields: one array of field values per packet (-n, tab-separated); with displayFilter, of the packets it keeps. */
export function tsharkFields(file: string, fields: string[], displayFilter?: string): string[][] {
  const out = execFileSync('tshark', ['-r', file, '-n', ...(displayFilter ? ['-Y', displayFilter] : []), '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}
