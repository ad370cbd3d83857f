/**
 * Seeks in generated traces that carry other traces, against the linear
 * scan: shared by test/navigate.test.ts and bench/seek-kinds.js.
 */
import fs from 'node:fs';
import { openTrace } from '../../lib';
import { NastyKind, NastyOptions } from './nasty';
import { random, Truth } from './trace';

/** The kinds of trace that carry other traces, as the tests and bench/seek-kinds.js check them: a name, the kind, its options, a seed. */
export const NASTY_KINDS: [string, NastyKind, NastyOptions, number][] = [
  ['whole pcap files in single records, µs, little-endian', 'carried-files', {}, 31],
  ['whole pcap files in single records, ns, big-endian', 'carried-files', { nano: true, bigEndian: true }, 32],
  ['a trace copied in runs of full-size packets, ns, little-endian', 'copied-runs', { nano: true }, 33],
  ['a trace copied in runs of full-size packets, µs, big-endian', 'copied-runs', { bigEndian: true }, 34],
  ['chains of fake headers and fake caplens that land on the next real header', 'fake-chains', { bigEndian: true }, 35],
  ['records of up to 256 KiB holding many small packets', 'big-records', { packets: 400 }, 36],
  ['records of up to 200,000 bytes past a snaplen of 1514, carrying pcap files, µs, little-endian', 'past-snaplen', { snaplen: 1514 }, 39],
  ['snaplen 0 (the link type\'s maximum), USBPCAP records of up to 350,000 bytes carrying pcap files, ns, big-endian', 'past-snaplen', { snaplen: 0, linktype: 249, longest: 350_000, packets: 400, nano: true, bigEndian: true }, 40],
  ['pcapng whose EPBs carry pcap and pcapng files, µs, little-endian', 'pcapng-carried', {}, 37],
  ['pcapng whose EPBs carry pcap and pcapng files, ns, big-endian', 'pcapng-carried', { nano: true, bigEndian: true }, 38],
  ['pcapng with blocks of 270-600 KiB (a skipped type, EPBs with long comments) carrying pcapng files, µs, little-endian', 'pcapng-big-blocks', {}, 44],
];

/** Targets of each kind, by time and by offset. */
export const TARGETS = 1000;

/**
 * Every seek({ time }) and seek({ offset }) to TARGETS random targets (half
 * of them on or next to a record's own time or offset), compared with the
 * linear scan: the ones that differ or are not definite, and the bytes each
 * time seek read.
 */
export function seeksAgainstScan(file: string, truth: Truth[], seed: number): { wrong: string[]; timeBytes: number[] } {
  const size = fs.statSync(file).size;
  const starts = recordStarts(file, truth);
  const rand = random(seed);
  const wrong: string[] = [];
  const timeBytes: number[] = [];
  const trace = openTrace(file);
  try {
    const span = Number(truth[truth.length - 1].ts - truth[0].ts);
    for (let i = 0; i < TARGETS; i++) {
      const near = truth[Math.floor(rand() * truth.length)];
      const time = i % 2 === 0 ? truth[0].ts - 1000n + BigInt(Math.floor(rand() * (span + 2000))) : near.ts + BigInt(Math.floor(rand() * 3) - 1);
      const expected = truth.find((r) => r.ts >= time);
      const got = trace.seek({ time });
      timeBytes.push(got.bytesRead);
      if (got.offset !== (expected?.offset ?? size) || got.certainty !== 'definite') wrong.push(`time ${time}: ${got.offset} ${got.certainty}, scan ${expected?.offset}`);

      const offset = i % 2 === 0 ? Math.floor(rand() * size) : near.offset + Math.floor(rand() * 3) - 1;
      const atOffset = starts.find((start) => start >= offset);
      const byOffset = trace.seek({ offset });
      if (byOffset.offset !== (atOffset ?? size) || byOffset.certainty !== 'definite') wrong.push(`offset ${offset}: ${byOffset.offset} ${byOffset.certainty}, scan ${atOffset}`);
    }
  } finally {
    trace.close();
  }
  return { wrong, timeBytes };
}

/** Where records start from the first packet on: pcap's packets, or pcapng's blocks of every type (an offset seek gives a block). */
function recordStarts(file: string, truth: Truth[]): number[] {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x0a0d0d0a) return truth.map((r) => r.offset);
  const le = b.readUInt32LE(8) === 0x1a2b3c4d;
  const starts: number[] = [];
  for (let pos = truth[0].offset; pos + 12 <= b.length; pos += le ? b.readUInt32LE(pos + 4) : b.readUInt32BE(pos + 4)) starts.push(pos);
  return starts;
}
