/**
 * Worker-thread scenarios run in a child node, so an abort or a hang fails
 * the test instead of killing jest. The child's code gets these helpers:
 *   spawnWorker(body, data)  a Worker running `body` (an async function body
 *                            with wirecap, parentPort and workerData in scope);
 *                            its messages so far in .messages, its exit code
 *                            in .exited (a promise)
 *   nextMessage(worker, test) the first message that passes test
 *   threads(), fds()         the child's /proc/self/task and /proc/self/fd counts
 *   flood(perMs, max)        a UDP sink on 127.0.0.1 and a sender of perMs
 *                            datagrams a millisecond to it, at most max in all
 *   settle()                 waits until threads() stops falling (joined
 *                            threads leave /proc/self/task a little later)
 *   report(object)           prints the result line the test parses
 */
import { ROOT, runNode } from './traffic';

const PRELUDE = `
const { Worker } = require('node:worker_threads');
const fs = require('node:fs');
const dgram = require('node:dgram');
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const threads = () => fs.readdirSync('/proc/self/task').length;
const fds = () => fs.readdirSync('/proc/self/fd').length;
function spawnWorker(body, data) {
  const source = "const { parentPort, workerData } = require('node:worker_threads');" +
    'const wirecap = require(' + JSON.stringify(${JSON.stringify(ROOT)}) + ');' +
    '(async () => {' + body + '\\n})().catch((e) => parentPort.postMessage({ error: e && (e.code || e.message) }));';
  const worker = new Worker(source, { eval: true, workerData: data });
  worker.exited = new Promise((resolve) => worker.once('exit', resolve));  // its exit code
  worker.messages = [];
  worker.on('message', (m) => worker.messages.push(m));
  worker.on('error', (e) => { console.error('worker error', e); process.exitCode = 3; });
  return worker;
}
const nextMessage = (worker, test = () => true) => new Promise((resolve) => {
  const seen = worker.messages.find(test);
  if (seen !== undefined) return resolve(seen);
  const on = (m) => { if (test(m)) { worker.off('message', on); resolve(m); } };
  worker.on('message', on);
  worker.once('exit', () => resolve(undefined));
});
async function flood(perMs = 50, max = 2000000) {
  const sink = dgram.createSocket('udp4');
  await new Promise((r) => sink.bind(0, '127.0.0.1', r));
  const port = sink.address().port;
  const tx = dgram.createSocket('udp4');
  const payload = Buffer.alloc(64, 0x77);
  let sent = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < perMs && sent < max; i++, sent++) tx.send(payload, port, '127.0.0.1');
  }, 1);
  return { port, sent: () => sent, stop() { clearInterval(timer); tx.close(); sink.close(); } };
}
async function settle() {
  let last = threads();
  for (let i = 0; i < 50; i++) {
    await pause(20);
    const now = threads();
    if (now === last && i >= 2) break;
    last = now;
  }
  return last;
}
const report = (o) => console.log('RESULT ' + JSON.stringify(o));
`;

export interface ScenarioResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the child passed to report(); null when it never did. */
  result: Record<string, unknown> | null;
}

/** Runs code (with the helpers above) in a child node that has wirecap loaded; killed after killAfterMs; wrapper runs it (e.g. setpriv as another user). */
export async function scenario(
  code: string,
  options: { killAfterMs?: number; env?: NodeJS.ProcessEnv; wrapper?: string[] } = {},
): Promise<ScenarioResult> {
  const child = await runNode(`${PRELUDE}\n(async () => {\n${code}\n})().catch((e) => { console.error(e); process.exit(2); });`, {
    killAfterMs: options.killAfterMs ?? 60000,
    env: options.env,
    wrapper: options.wrapper,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return { code: child.code, signal: child.signal, stdout: child.stdout, stderr: child.stderr, result: line ? JSON.parse(line.slice(7)) : null };
}
