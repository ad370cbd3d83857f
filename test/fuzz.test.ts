// The fuzzer's short pass (scripts/fuzz.js; the long runs are in
// bench/RESULTS.md), seeded with the files the tests write, and the
// regressions it found.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWriter, openOffline } from '../lib';
import { pcapBytes, syntheticPackets } from './helpers/trace';
import { ROOT } from './helpers/traffic';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-fuzz-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('3,000 mutated and truncated files and messages: no crash, no hang, no error without a code', () => {
  const corpus = path.join(dir, 'corpus');
  fs.mkdirSync(corpus);
  const packets = syntheticPackets(30);
  // The traces the tests write (test/helpers/trace.ts), in each form.
  for (const [name, options] of Object.entries({ le: {}, be: { bigEndian: true }, nano: { nano: true }, nanoBe: { nano: true, bigEndian: true }, raw: { linktype: 101, snaplen: 128 } })) {
    fs.writeFileSync(path.join(corpus, `${name}.pcap`), pcapBytes(packets, options));
  }
  fs.writeFileSync(path.join(corpus, 'cut.pcap'), pcapBytes([...packets.slice(0, 3), { ...packets[3], caplen: 5000 }]));
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'fuzz.js'), '--cases', '3000', '--seed', '17', '--corpus', corpus, '--json'], {
    encoding: 'utf8',
    timeout: 120000,
  });
  const summary = JSON.parse(out.trim().split('\n').pop()!);
  expect(summary).toMatchObject({ cases: 3000, crashes: 0, hangs: 0, errorsWithoutCode: 0, findings: [] });
  // Every target ran.
  expect(Object.keys(summary.outcomes)).toEqual(expect.arrayContaining(['openOffline', 'openTrace', 'slice', 'decode', 'EBADFORMAT']));
});

test('100,000 mutated packets of generated conversations through defragmentation, flows and reassembly: no throw, every bound kept', () => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'fuzz.js'), '--target', 'flows', '--cases', '500', '--seed', '24', '--json'], { encoding: 'utf8', timeout: 120000 });
  const summary = JSON.parse(out.trim().split('\n').pop()!);
  expect(summary).toMatchObject({ cases: 500, crashes: 0, hangs: 0, errorsWithoutCode: 0, findings: [], flowPackets: 100000, outcomes: { flows: 500 } });
});

test('a pcapng record dated past 2262 ends the read with EBADFORMAT after the records before it (found by the fuzzer: it overflowed)', async () => {
  const file = path.join(dir, 'late.pcapng');
  const writer = createWriter(file, { format: 'pcapng', precision: 'nano' });
  for (let i = 0; i < 3; i++) writer.write({ timestamp: 1_700_000_000_000_000_000n + BigInt(i), data: Buffer.alloc(60, i) });
  writer.close();
  const bytes = fs.readFileSync(file);
  // The third Enhanced Packet Block: after the section and interface blocks and two EPBs.
  let at = bytes.readUInt32LE(4);
  at += bytes.readUInt32LE(at + 4);
  at += bytes.readUInt32LE(at + 4);
  at += bytes.readUInt32LE(at + 4);
  expect(bytes.readUInt32LE(at)).toBe(6);
  bytes.writeUInt32LE(0xffffffff, at + 12); // timestamp, high 32 bits
  fs.writeFileSync(file, bytes);
  const seen: bigint[] = [];
  let error: unknown = null;
  try {
    for await (const p of openOffline(file)) seen.push(p.timestamp);
  } catch (e) {
    error = e;
  }
  expect(seen).toEqual([1_700_000_000_000_000_000n, 1_700_000_000_000_000_001n]);
  expect(error).toMatchObject({ code: 'EBADFORMAT', message: expect.stringContaining('2262') });
});

test('20,000 mutated HTTP, TLS and QUIC streams and datagrams through the sessions parsers: no throw, no body kept past its bound', () => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'fuzz.js'), '--target', 'sessions', '--cases', '20000', '--seed', '25', '--json'], {
    encoding: 'utf8',
    timeout: 120000,
  });
  const summary = JSON.parse(out.trim().split('\n').pop()!);
  expect(summary).toMatchObject({ cases: 20000, crashes: 0, hangs: 0, errorsWithoutCode: 0, findings: [], outcomes: { sessions: 20000 } });
});
