import { AbortError, openLive, WirecapError } from '../lib';
import { describeLive } from './helpers/live';
import { markedPayloads, runNode, sendUdp, sleep, udpSink } from './helpers/traffic';

describeLive('Capture lifecycle', () => {
  test('leaving a for-await loop with break closes the capture; stats stay readable', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    const sending = sendUdp(sink.port, markedPayloads('b', 5));
    for await (const _ of cap) break;
    await sending;
    expect(cap.closed).toBe(true);
    expect(cap.stats().delivered).toBeGreaterThanOrEqual(1);
    expect(() => cap.setFilter('udp')).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
    sink.close();
  });

  test('close() before iterating makes the iteration end at once', async () => {
    const cap = openLive('lo');
    cap.close();
    let n = 0;
    for await (const _ of cap) n++;
    for await (const _ of cap.batches()) n++;
    expect(n).toBe(0);
  });

  test('close() twice is harmless', () => {
    const cap = openLive('lo');
    cap.close();
    expect(() => cap.close()).not.toThrow();
  });

  test('close() inside the loop ends it after the current packet', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    await sendUdp(sink.port, markedPayloads('c', 20));
    let n = 0;
    for await (const _ of cap) {
      n++;
      cap.close();
    }
    expect(n).toBe(1);
    expect(cap.closed).toBe(true);
    sink.close();
  });

  test("close() from another capture's loop ends a capture that is waiting for packets", async () => {
    const sink = await udpSink();
    const idle = openLive('lo', { filter: 'udp and port 9' });
    const busy = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    const idleDone = (async () => {
      let n = 0;
      for await (const _ of idle) n++;
      return n;
    })();
    await sendUdp(sink.port, markedPayloads('x', 1));
    for await (const _ of busy) {
      idle.close();
      break;
    }
    expect(await idleDone).toBe(0);
    sink.close();
  });

  test('an AbortSignal ends a waiting iterator with an AbortError that carries the reason', async () => {
    const controller = new AbortController();
    const cap = openLive('lo', { filter: 'udp and port 9', signal: controller.signal });
    const iteration = (async () => {
      for await (const _ of cap);
    })();
    await sleep(50);
    const reason = new Error('enough');
    controller.abort(reason);
    const error = await iteration.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AbortError);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
    expect(cap.closed).toBe(true);
  });

  test('a signal that has already aborted makes openLive() throw an AbortError', () => {
    expect(() => openLive('lo', { signal: AbortSignal.abort() })).toThrow(AbortError);
  });

  test('a child process that captures and closes exits on its own', async () => {
    const result = await runNode(`
      const cap = wirecap.openLive('lo', { filter: 'udp and port 9' });
      (async () => {
        setTimeout(() => cap.close(), 200);
        for await (const _ of cap);
        console.log('closed', cap.stats().captured);
      })();
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('closed 0');
    expect(result.code).toBe(0);
  });

  test('a capture being iterated keeps the process alive like a socket; unref() lets it exit', async () => {
    // An unref'd timer fires only while something else keeps the event loop
    // alive: it says "alive" (and closes the capture) in the ref'd case, and
    // never runs in the unref'd one, however slow the machine.
    const script = (unref: boolean): string => `
      const cap = wirecap.openLive('lo', { filter: 'udp and port 9' });
      ${unref ? 'cap.unref();' : ''}
      (async () => { for await (const _ of cap); })();
      setTimeout(() => { console.log('alive'); cap.close(); }, 500).unref();
      console.log('iterating');
    `;
    const unrefed = await runNode(script(true));
    expect(unrefed).toMatchObject({ code: 0, stdout: 'iterating\n' });
    const refed = await runNode(script(false));
    expect(refed).toMatchObject({ code: 0, stdout: 'iterating\nalive\n' });
  });

  test('an open capture that is never iterated does not keep the process alive', async () => {
    const result = await runNode(`wirecap.openLive('lo'); console.log('opened');`);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('opened');
  });

  test('terminating a worker that is capturing closes its capture and leaves the process healthy', async () => {
    const result = await runNode(`
      const { Worker } = require('node:worker_threads');
      const code = \`
        const wirecap = require(process.env.WIRECAP_ROOT);
        const { parentPort } = require('node:worker_threads');
        const cap = wirecap.openLive('lo', { filter: 'udp and port 9' });
        (async () => { for await (const _ of cap); })();
        parentPort.postMessage('capturing');
      \`;
      (async () => {
        for (let i = 0; i < 3; i++) {
          const worker = new Worker(code, { eval: true, env: { WIRECAP_ROOT: process.cwd() } });
          await new Promise((resolve) => worker.once('message', resolve));
          await worker.terminate();
        }
        console.log('workers done');
      })();
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('workers done');
    expect(result.code).toBe(0);
  });

  test('closing while a next() is pending resolves it as done', async () => {
    const cap = openLive('lo', { filter: 'udp and port 9' });
    const it = cap[Symbol.asyncIterator]();
    const pending = it.next();
    await sleep(20);
    cap.close();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
  });

  test('calls after close() other than stats() and close() throw ECLOSED', () => {
    const cap = openLive('lo');
    cap.close();
    expect(() => cap.inject(Buffer.alloc(60))).toThrow(WirecapError);
    expect(() => cap.inject(Buffer.alloc(60))).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
    expect(cap.stats()).toMatchObject({ captured: 0, delivered: 0, consumerDropped: 0 });
  });
});
