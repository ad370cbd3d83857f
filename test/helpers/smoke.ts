/**
 * The smoke program (test/fixtures/smoke.cjs, smoke.mjs, smoke-checks.cjs)
 * as the runtime tests run it: a folder app/ whose node_modules/wirecap is
 * the staged package, the program run under some runtime, and its JSON
 * lines read back as check results.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { filePackets } from './tools';
import { ROOT, UDP_HEADERS } from './traffic';

/** The smoke program's checks, in order, apart from the worker's, which runs alone. */
export const CHECKS = ['load', 'devices', 'live', 'dump', 'read', 'decode', 'flows', 'seek', 'grpc'];
export const CHECKS_TITLE =
  'devices(), a filtered capture on lo with setFilter and stats, a native dump to its packet limit, batches() and for await, decode(), trackFlows, seeks, a gRPC stream';

export interface Result {
  check: string;
  ok: boolean;
  error?: string;
}

/** Lays out <stage>/app with node_modules/wirecap linked to packageDir and the smoke program's files; returns app. */
export function smokeApp(stage: string, packageDir: string): string {
  const app = path.join(stage, 'app');
  fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
  fs.symlinkSync(packageDir, path.join(app, 'node_modules', 'wirecap'));
  fs.writeFileSync(path.join(app, 'package.json'), '{ "private": true }\n');
  for (const f of ['smoke.cjs', 'smoke.mjs', 'smoke-checks.cjs', 'loaded.cjs']) fs.copyFileSync(path.join(ROOT, 'test', 'fixtures', f), path.join(app, f));
  return app;
}

/** The check results among a run's output lines. */
export const smokeResults = (stdout: string): Result[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{"check"'))
    .map((l) => JSON.parse(l) as Result);

/** Runs binary with args in app; killed after killAfterMs so that a hang fails instead of stalling. */
export function runSmoke(
  binary: string,
  args: string[],
  app: string,
  env: NodeJS.ProcessEnv = process.env,
  killAfterMs = 90000,
): Promise<{ code: number | null; results: Result[]; stdout: string; stderr: string }> {
  const child = spawn(binary, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, results: smokeResults(stdout), stdout, stderr });
    }),
  );
}

export const passed = (checks: string[]): Result[] => checks.map((check) => ({ check, ok: true }));

/** The smoke program's dump, read by tcpdump and tshark: ten datagrams in order. */
export function expectDumpOfTen(out: string): void {
  const payloads = filePackets(path.join(out, 'dump.pcap')).map((p) => Buffer.from(p.hex, 'hex').subarray(UDP_HEADERS).toString());
  expect(payloads).toEqual(Array.from({ length: 10 }, (_, i) => `dump:${i}`));
}

/** The worker check's terminate() times, from its progress lines: "n rounds, median M ms, max X ms". */
export function terminateTimes(stdout: string): string {
  const ms = [...stdout.matchAll(/"terminateMs":(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  return ms.length === 0 ? 'no rounds' : `${ms.length} rounds, terminate() median ${ms[ms.length >> 1]} ms, max ${ms[ms.length - 1]} ms`;
}

/** The helper check's line: the capture helper that ran and the libpcap and libc it mapped (null where /proc hid them). */
export function helperSeen(stdout: string): { exe: string | null; mapped: string[] | null } {
  const line = stdout.split('\n').find((l) => l.startsWith('{"helper"'));
  if (!line) throw new Error(`no helper line in:\n${stdout}`);
  return JSON.parse(line).helper;
}
