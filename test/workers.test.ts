// wirecap in worker threads, and processes that end abruptly. Each case runs
// in a child node (test/helpers/workers.ts): an abort, a hang or a leaked
// thread fails the test rather than the test runner. Threads are counted in
// /proc/self/task and descriptors in /proc/self/fd, before and after.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openOffline } from '../lib';
import { describeLive } from './helpers/live';
import { liveDumpShim, tcpdumpRead } from './helpers/tools';
import { pcapBytes, syntheticPackets } from './helpers/trace';
import { scenario, ScenarioResult } from './helpers/workers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-workers-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Child code: a warm-up worker loads wirecap and libpcap once, then the counts to come back to. */
const BASELINE = `
  const warm = spawnWorker("wirecap.openLive('lo').close();");
  await warm.exited;
  const threads0 = await settle();
  const fds0 = fds();`;
const AFTER = `threads0, threads1: await settle(), fds0, fds1: fds()`;

function expectExit(run: ScenarioResult): void {
  if (run.code !== 0) throw new Error(`child ended with ${run.code ?? run.signal}: ${run.stdout.slice(-1000)} ${run.stderr.slice(-2000)}`);
}

/** The child ended on its own, reported, and had as many threads and descriptors as before. */
function expectClean(run: ScenarioResult): Record<string, unknown> {
  expectExit(run);
  expect(run.result).not.toBeNull();
  const r = run.result!;
  expect(r.threads1).toBe(r.threads0);
  expect(r.fds1).toBe(r.fds0);
  return r;
}

/** Every file is a whole capture file: tcpdump reads it without complaint and so does openOffline, to the end. */
async function expectWholeFiles(files: string[]): Promise<number> {
  let packets = 0;
  for (const file of files) {
    expect(tcpdumpRead(file).complaints).toBe('');
    for await (const _ of openOffline(file)) packets++;
  }
  return packets;
}

// Each child is killed after 60 s; the tests wait a little longer for it.
jest.setTimeout(90000);

describeLive('worker threads', () => {
  test('four workers iterating a busy capture, each terminated 50-250 ms into it, 30 rounds: no abort, every thread joined', async () => {
    const run = await scenario(`
      const traffic = await flood(50);
      ${BASELINE}
      let capturing = 0;
      for (let round = 0; round < 30; round++) {
        await Promise.all(Array.from({ length: 4 }, async () => {
          const w = spawnWorker(\`
            const cap = wirecap.openLive('lo', { filter: 'udp port ' + workerData.port, timeoutMs: 5 });
            let n = 0;
            for await (const p of cap) if (n++ % 100 === 0) parentPort.postMessage(n);\`, { port: traffic.port });
          if ((await nextMessage(w)) === 1) capturing++;
          await pause(50 + Math.random() * 200);
          await w.terminate();
        }));
      }
      report({ capturing, ${AFTER} });
      traffic.stop();`);
    expect(expectClean(run).capturing).toBe(120);
  });

  test('terminated mid-dump (liveDump and a tee, pcap and pcapng): every file whole to its last record', async () => {
    const files = Array.from({ length: 8 }, (_, i) => path.join(dir, `mid-${i}.${i % 2 ? 'pcapng' : 'pcap'}`));
    const run = await scenario(`
      const traffic = await flood(20);
      ${BASELINE}
      const files = ${JSON.stringify(files)};
      await Promise.all(files.map(async (file, i) => {
        const w = spawnWorker(\`
          const options = { filter: 'udp port ' + workerData.port, timeoutMs: 5, format: workerData.file.endsWith('ng') ? 'pcapng' : 'pcap' };
          if (workerData.tee) {
            const cap = wirecap.openLive('lo', { filter: options.filter, timeoutMs: 5 });
            cap.dump(workerData.file, { format: options.format });
            parentPort.postMessage('started');
            for await (const p of cap);
          } else {
            wirecap.liveDump('lo', workerData.file, options);
            parentPort.postMessage('started');
          }\`, { port: traffic.port, file, tee: i % 4 >= 2 });
        await nextMessage(w, (m) => m === 'started');
        await pause(50 + Math.random() * 200);
        await w.terminate();
      }));
      report({ ${AFTER} });
      traffic.stop();`);
    expectClean(run);
    expect(await expectWholeFiles(files)).toBeGreaterThan(0);
  });

  test('terminated during setFilter() and inject() calls, 20 workers: no abort, every thread joined', async () => {
    const run = await scenario(`
      ${BASELINE}
      const seen = [];
      for (let i = 0; i < 20; i++) {
        const w = spawnWorker(\`
          const cap = wirecap.openLive('lo', { filter: 'udp port 9', timeoutMs: 5 });
          const frame = Buffer.alloc(60);
          parentPort.postMessage('started');
          for (let i = 0; ; i++) {
            cap.setFilter(i % 2 ? 'udp port 9' : 'udp port 7');
            cap.inject(frame);
          }\`);
        seen.push(await nextMessage(w, (m) => m === 'started'));
        await pause(Math.random() * 30);
        await w.terminate();
      }
      report({ seen, ${AFTER} });`);
    const r = expectClean(run);
    expect(r.seen).toEqual(Array(20).fill('started'));
  });

  // Through the capture helper (test/through-helper/) there is no kernel dump: the helper opens no files.
  const kernelDumpTest = process.env.WIRECAP_HELPER_MODE === 'on' ? test.skip : test;
  kernelDumpTest("terminated while the library's kernel dump runs (the shim): the file is whole, every thread joined", async () => {
    const files = Array.from({ length: 4 }, (_, i) => path.join(dir, `kernel-${i}.pcap`));
    const run = await scenario(
      `
      const traffic = await flood(10);
      ${BASELINE}
      const modes = [];
      for (const file of ${JSON.stringify(files)}) {
        const w = spawnWorker(\`
          const d = wirecap.liveDump('lo', workerData.file, { filter: 'udp port ' + workerData.port, timeoutMs: 5, mode: 'kernel' });
          parentPort.postMessage(d.ended ? 'ended' : 'started');\`, { port: traffic.port, file });
        modes.push(await nextMessage(w));
        await pause(100 + Math.random() * 150);
        await w.terminate();
      }
      report({ modes, ${AFTER} });
      traffic.stop();`,
      { env: { WIRECAP_LIBPCAP: liveDumpShim(dir, false) } },
    );
    const r = expectClean(run);
    expect(r.modes).toEqual(Array(4).fill('started'));
    await expectWholeFiles(files);
  });

  test('terminated while an exporter waits for the collector to acknowledge: no abort, every thread joined', async () => {
    const run = await scenario(`
      const traffic = await flood(20);
      const collector = await wirecap.createCollector({ host: '127.0.0.1' });
      const held = [];
      (async () => { for await (const s of collector.streams()) held.push(s); })();
      ${BASELINE}
      for (let i = 0; i < 4; i++) {
        const w = spawnWorker(\`
          const cap = wirecap.openLive('lo', { filter: 'udp port ' + workerData.port, timeoutMs: 5 });
          const stream = wirecap.streamPackets('127.0.0.1:' + workerData.collector, cap, { segmentPackets: 100000 });
          parentPort.postMessage('started');
          await stream.done;\`, { port: traffic.port, collector: collector.port });
        await nextMessage(w, (m) => m === 'started');
        await pause(150 + Math.random() * 100);
        console.log('terminating', i);
        await w.terminate();
      }
      console.log('settling');
      const result = { streams: held.length, ${AFTER} };
      console.log('closing');
      await collector.close(0);
      traffic.stop();
      report(result);`);
    // Sockets of the collector's broken-off streams may linger: threads alone are counted here.
    expectExit(run);
    expect(run.result!.threads1).toBe(run.result!.threads0);
    expect(run.result!.streams).toBeGreaterThan(0);
  });

  test('terminated while reading a file, seeking in a trace, slicing and writing: the written file is whole', async () => {
    const trace = path.join(dir, 'big.pcap');
    fs.writeFileSync(trace, pcapBytes(syntheticPackets(50000)));
    const written = Array.from({ length: 6 }, (_, i) => path.join(dir, `written-${i}.pcap`));
    const sliced = Array.from({ length: 6 }, (_, i) => path.join(dir, `sliced-${i}.pcap`));
    const run = await scenario(`
      ${BASELINE}
      for (let i = 0; i < 6; i++) {
        const w = spawnWorker(\`
          const { trace, out, sliced } = workerData;
          const writer = wirecap.createWriter(out);
          const nav = wirecap.openTrace(trace);
          wirecap.slice([trace], sliced, { offset: 0 }).catch(() => {});
          parentPort.postMessage('started');
          for (let round = 0; ; round++) {
            nav.seek({ fraction: (round % 10) / 10 });
            for await (const p of wirecap.openOffline(trace)) writer.write(p);
          }\`, { trace: ${JSON.stringify(trace)}, out: ${JSON.stringify(written)}[i], sliced: ${JSON.stringify(sliced)}[i] });
        await nextMessage(w, (m) => m === 'started');
        await pause(50 + Math.random() * 200);
        await w.terminate();
      }
      report({ ${AFTER} });`);
    expectClean(run);
    expect(await expectWholeFiles(written)).toBeGreaterThan(0);
  });

  test("a worker that ends on its own with its capture, dump, file and writer still open closes them all", async () => {
    const file = path.join(dir, 'own-end.pcap');
    const trace = path.join(dir, 'small.pcap');
    fs.writeFileSync(trace, pcapBytes(syntheticPackets(100)));
    const run = await scenario(`
      ${BASELINE}
      const w = spawnWorker(\`
        wirecap.openLive('lo', { filter: 'udp port 9' }).unref();
        wirecap.openOffline(workerData.trace).unref();
        wirecap.openTrace(workerData.trace);
        wirecap.createWriter(workerData.file).write({ timestamp: 1n, data: Buffer.alloc(60) });\`, { trace: ${JSON.stringify(trace)}, file: ${JSON.stringify(file)} });
      const code = await w.exited;
      report({ code, ${AFTER} });`);
    expect(expectClean(run).code).toBe(0);
    expect(tcpdumpRead(file).complaints).toBe('');
  });

  test('process.exit() inside a worker mid-iteration with a dump running: the file is whole, every thread joined', async () => {
    const files = Array.from({ length: 4 }, (_, i) => path.join(dir, `exit-${i}.pcap`));
    const run = await scenario(`
      const traffic = await flood(20);
      ${BASELINE}
      const codes = [];
      for (const file of ${JSON.stringify(files)}) {
        const w = spawnWorker(\`
          const cap = wirecap.openLive('lo', { filter: 'udp port ' + workerData.port, timeoutMs: 5 });
          cap.dump(workerData.file);
          let n = 0;
          for await (const p of cap) if (++n === 500) process.exit(7);\`, { port: traffic.port, file });
        codes.push(await w.exited);
      }
      report({ codes, ${AFTER} });
      traffic.stop();`);
    expect(expectClean(run).codes).toEqual([7, 7, 7, 7]);
    expect(await expectWholeFiles(files)).toBeGreaterThanOrEqual(4 * 500);
  });

  test('an exception thrown inside for await closes the capture, in a worker and in the main thread', async () => {
    const run = await scenario(`
      const traffic = await flood(5);
      ${BASELINE}
      const w = spawnWorker(\`
        const cap = wirecap.openLive('lo', { filter: 'udp port ' + workerData.port, timeoutMs: 5 });
        try {
          for await (const p of cap) throw new Error('boom');
        } catch (e) {
          parentPort.postMessage({ message: e.message, closed: cap.closed });
        }\`, { port: traffic.port });
      const inWorker = await nextMessage(w);
      await w.exited;
      const cap = wirecap.openLive('lo', { filter: 'udp port ' + traffic.port, timeoutMs: 5 });
      let message;
      try {
        for await (const p of cap) throw new Error('bang');
      } catch (e) {
        message = e.message;
      }
      report({ inWorker, main: { message, closed: cap.closed }, ${AFTER} });
      traffic.stop();`);
    const r = expectClean(run);
    expect(r.inWorker).toEqual({ message: 'boom', closed: true });
    expect(r.main).toEqual({ message: 'bang', closed: true });
  });
});

describeLive('process.exit() with captures running', () => {
  test('from the main thread mid-iteration, with a dump and a capturing worker: exits at once with its code, the dump file whole', async () => {
    const file = path.join(dir, 'main-exit.pcap');
    const run = await scenario(`
      const traffic = await flood(20);
      spawnWorker(\`for await (const p of wirecap.openLive('lo', { filter: 'udp port ' + workerData.port, timeoutMs: 5 }));\`, { port: traffic.port });
      const cap = wirecap.openLive('lo', { filter: 'udp port ' + traffic.port, timeoutMs: 5 });
      cap.dump(${JSON.stringify(file)});
      let n = 0;
      for await (const p of cap) if (++n === 1000) process.exit(5);`);
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 5, signal: null });
    expect(await expectWholeFiles([file])).toBeGreaterThanOrEqual(1000);
  });
});
