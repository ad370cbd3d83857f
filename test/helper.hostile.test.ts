/**
 * The capture helper against hostile callers and a hostile helper against
 * wirecap: the helper run directly (as an unprivileged user, granted) with
 * bad, huge and missing arguments; its channel closed, flooded with garbage
 * or never read; its parent SIGKILLed; WIRECAP_LIBPCAP, LD_PRELOAD and
 * LD_LIBRARY_PATH pointing at a library of the test's. And wirecap given a
 * "helper" that lies: a clear EHELPER, never a hang or a crash.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openLive, WirecapError } from '../lib';
import { ROOT, udpSink, waitFor } from './helpers/traffic';
import { makeUnprivileged, markerLibrary, Unprivileged } from './helpers/unprivileged';

jest.setTimeout(30000);

let u: Unprivileged;
beforeAll(() => {
  u = makeUnprivileged('ho');
});
afterAll(() => u?.remove());

const READY = 0x52; // 'R', channel.h kReady

/**
 * A helper's environment: PATH, env, and under scripts/test-asan.sh the
 * sanitizer's options and its runtime first in LD_PRELOAD (a sanitized
 * program refuses to start with another library before it).
 */
function helperEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...env };
  for (const k of ['ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) if (process.env[k] !== undefined) out[k] = process.env[k];
  const preload = [process.env.LD_PRELOAD, env.LD_PRELOAD].filter((p) => p !== undefined && p !== '');
  if (preload.length > 0) out.LD_PRELOAD = preload.join(':');
  return out;
}

/** The granted helper, started by this process as the test user. */
function startHelper(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(u.wrapper[0], [...u.wrapper.slice(1), u.granted, ...args], { env: helperEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** The first frame's type the helper sends, or null if it ends first. */
function firstFrame(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    child.stdout!.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8) resolve(got.readUInt32LE(0));
    });
    child.on('exit', () => resolve(null));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

const lo = (): string[] => ['--device', 'lo', '--parent', String(process.pid), '--snaplen', '512'];

test.each([
  ['no arguments', []],
  ['no --parent', ['--device', 'lo']],
  ['no --device', ['--parent', '1234']],
  ['a value missing', ['--parent', '1234', '--device']],
  ['a path as the device', ['--parent', '1234', '--device', '../../etc/shadow']],
  ['an option as the device', ['--parent', '1234', '--device', '--promisc']],
  ['a 1000-character device', ['--parent', '1234', '--device', 'x'.repeat(1000)]],
  ['a negative snaplen', ['--parent', '1234', '--device', 'lo', '--snaplen', '-1']],
  ['a 30-digit snaplen', ['--parent', '1234', '--device', 'lo', '--snaplen', '9'.repeat(30)]],
  ['a 70000-byte filter', ['--parent', '1234', '--device', 'lo', '--filter', 'tcp or '.repeat(10000)]],
  ['a file to write', ['--parent', '1234', '--device', 'lo', '-w', '/etc/passwd']],
  ['an unknown option', ['--parent', '1234', '--device', 'lo', '--interface', 'eth0']],
  ['an option given twice', ['--parent', '1234', '--device', 'lo', '--device', 'eth0']],
  ['20000 arguments', ['--parent', '1234', '--device', 'lo', ...Array.from({ length: 20000 }, (_, i) => `--x${i}`)]],
  ['a bad direction', ['--parent', '1234', '--device', 'lo', '--direction', 'sideways']],
])('the helper run directly with %s exits 2 with its usage, touching nothing', (_name, args) => {
  const r = spawnSync(u.wrapper[0], [...u.wrapper.slice(1), u.granted, ...args], { encoding: 'utf8', timeout: 10000 });
  expect(r.signal).toBeNull();
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^wirecap-helper: .+\nusage: wirecap-helper --parent PID --device NAME/);
});

test('the helper whose --parent is not its parent exits 3 at once, opening nothing', () => {
  const r = spawnSync(u.wrapper[0], [...u.wrapper.slice(1), u.granted, '--device', 'lo', '--parent', '2'], { encoding: 'utf8', timeout: 10000 });
  expect([r.status, r.stdout, r.signal]).toEqual([3, '', null]);
});

test('its channel closed: the helper ends (exit 0)', async () => {
  const child = startHelper(lo());
  expect(await firstFrame(child)).toBe(READY);
  child.stdin!.end();
  expect(await exited(child)).toMatchObject({ code: 0, signal: null });
});

test.each([
  ['a frame claiming 4 GiB', Buffer.from('66000000ffffffff', 'hex')],
  ['an unknown request', Buffer.from('7a00000000000000', 'hex')],
  ['10 MiB of garbage', Buffer.alloc(10 << 20, 0xa5)],
])('its channel flooded with %s: the helper ends (exit 4) instead of obeying or hanging', async (_name, junk) => {
  const child = startHelper(lo());
  expect(await firstFrame(child)).toBe(READY);
  child.stdin!.on('error', () => undefined); // it may close its end mid-write
  child.stdin!.write(junk);
  expect(await exited(child)).toMatchObject({ code: 4, signal: null });
});

test('its output never read while it captures a flood: closing it ends the helper', async () => {
  const child = startHelper(['--device', 'lo', '--parent', String(process.pid)]);
  expect(await firstFrame(child)).toBe(READY);
  child.stdout!.pause();
  // The flood goes to a port of its own (other suites capture on lo), for
  // at most 20 s; it ends once the helper is out of the way.
  const sink = await udpSink();
  const flood = spawn(process.execPath, ['-e', `const s = require('dgram').createSocket('udp4'); const b = Buffer.alloc(1400); const t = setInterval(() => { for (let i = 0; i < 50; i++) s.send(b, ${sink.port}, '127.0.0.1'); }, 1); const end = () => { clearInterval(t); s.close(); }; setTimeout(end, 20000).unref(); process.stdin.on('end', end).resume();`], { stdio: ['pipe', 'ignore', 'inherit'] });
  try {
    // Its output channel is full: the helper waits in write().
    await waitFor(() => writing(child.pid!), 15000, 'the helper to wait in write()');
    child.stdout!.destroy();
    child.stdin!.destroy();
    const end = await exited(child);
    expect(end.signal === 'SIGPIPE' || end.code === 0).toBe(true);
  } finally {
    flood.stdin!.end();
    await exited(flood);
    sink.close();
  }
});

/** Whether a thread of process pid waits in write() on a full socket or pipe (its wchan, as /proc says). */
function writing(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).some((tid) => /^(sock_alloc_send_pskb|(anon_)?pipe_write)$/.test(fs.readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8')));
  } catch {
    return false; // it ended
  }
}

test('the parent SIGKILLed mid-capture: its helper ends with it', async () => {
  const code = `const w = require(${JSON.stringify(ROOT)}); const fs = require('fs');
    const cap = w.openLive('lo', { helper: true });
    const kid = fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).find((p) => { try { return Number(fs.readFileSync('/proc/' + p + '/stat', 'utf8').split(') ')[1].split(' ')[1]) === process.pid; } catch { return false; } });
    console.log('HELPER ' + kid);
    (async () => { for await (const p of cap) void p; })();`;
  const parent = spawn(u.wrapper[0], [...u.wrapper.slice(1), process.execPath, '-e', code], {
    env: { ...process.env, WIRECAP_HELPER: u.granted },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = await new Promise<number>((resolve) => {
    let out = '';
    parent.stdout!.on('data', (d) => {
      out += d;
      const m = /HELPER (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('wirecap-helper');
  parent.kill('SIGKILL');
  // PR_SET_PDEATHSIG kills it with its parent; how soon this process sees that is up to the scheduler.
  await waitFor(() => !fs.existsSync(`/proc/${pid}`) || /^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), 15000, 'the helper to end');
});

test('WIRECAP_LIBPCAP, LD_PRELOAD and LD_LIBRARY_PATH pointing at a library of the test: not loaded by the granted helper', async () => {
  // (setpriv, which starts the helper, loads it too.)
  const { dir, marker, lib } = markerLibrary(u.dir, 'marker.so', (out, source) => execFileSync('cc', ['-shared', '-fPIC', '-o', out, source]));
  fs.copyFileSync(lib, path.join(dir, 'libpcap.so.1'));
  fs.copyFileSync(lib, path.join(dir, 'libpcap.so.0.8'));
  // The marker exists and anyone may append to it, whoever loads the library first.
  const clear = () => {
    fs.writeFileSync(marker, '');
    fs.chmodSync(marker, 0o666);
  };
  clear();

  // The library works: an ordinary program of the user's loads it.
  spawnSync(u.wrapper[0], [...u.wrapper.slice(1), '/bin/true'], { env: { PATH: process.env.PATH, LD_PRELOAD: lib } });
  expect(fs.readFileSync(marker, 'utf8')).toMatch(/^\/usr\/bin\/true$/m);
  clear();

  const run = async (env: NodeJS.ProcessEnv, helper = u.granted): Promise<string> => {
    clear();
    const child = spawn(u.wrapper[0], [...u.wrapper.slice(1), helper, ...lo()], { env: helperEnv(env) });
    const first = await firstFrame(child);
    child.stdin!.end();
    await exited(child);
    return `${first === READY ? 'opened' : 'failed'}\n${fs.readFileSync(marker, 'utf8')}`;
  };
  // The helper's own loader ignores WIRECAP_LIBPCAP (a path dlopen would take even in secure mode)...
  expect(await run({ WIRECAP_LIBPCAP: lib })).not.toMatch(/wirecap-helper/);
  // ...and the dynamic linker ignores LD_* for a program with file capabilities.
  const all = await run({ WIRECAP_LIBPCAP: lib, LD_PRELOAD: lib, LD_LIBRARY_PATH: dir });
  expect(all).toMatch(/^opened\n/); // with the system's libpcap
  expect(all).not.toMatch(/wirecap-helper/);
  // The control: the same copy without capabilities does load an LD_PRELOAD.
  expect(await run({ LD_PRELOAD: lib }, u.plain)).toMatch(/wirecap-helper-plain/);
});

describe('a helper that lies to wirecap', () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'build', 'fake-helper-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fake = (name: string, script: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return file;
  };
  // channel.h: a ready frame ('R', 12 bytes: linktype 1, snaplen 512, micro).
  const ready = "printf 'R\\000\\000\\000\\014\\000\\000\\000\\001\\000\\000\\000\\000\\002\\000\\000\\000\\000\\000\\000'";
  const cases: [string, string, RegExp][] = [
    ['exits at once', 'exit 7', /capture helper: the capture helper exited with status 7 without answering/],
    ['sends a frame of no known type', "printf 'zzzz\\000\\000\\000\\000'; exec sleep 5", /sent an unknown frame/],
    ['sends text, not frames', "echo 'garbage, not frames'; exec sleep 5", /sent a frame of \d+ bytes/],
    ['claims a 4 GiB frame', "printf 'R\\000\\000\\000\\377\\377\\377\\377'; exec sleep 5", /a frame of 4294967295 bytes/],
  ];
  test.each(cases)('one that %s: openLive throws EHELPER, never hangs', (name, script, message) => {
    process.env.WIRECAP_HELPER = fake(name.replace(/\W/g, '-'), script);
    try {
      expect(() => openLive('lo', { helper: true })).toThrow(message);
      try {
        openLive('lo', { helper: true });
      } catch (error) {
        expect((error as WirecapError).code).toBe('EHELPER');
      }
    } finally {
      delete process.env.WIRECAP_HELPER;
    }
  });

  test('one that sends a packet longer than its frame: the capture ends with EHELPER', async () => {
    // A packets frame of 20 bytes whose record claims 100 bytes of packet.
    const bad = "printf 'P\\000\\000\\000\\024\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\144\\000\\000\\000\\144\\000\\000\\000'";
    process.env.WIRECAP_HELPER = fake('malformed', `${ready}; ${bad}; exec sleep 5`);
    try {
      const cap = openLive('lo', { helper: true });
      await expect(
        (async () => {
          for await (const p of cap) void p;
        })(),
      ).rejects.toMatchObject({ code: 'EHELPER', message: expect.stringMatching(/malformed packets frame/) });
      cap.close();
    } finally {
      delete process.env.WIRECAP_HELPER;
    }
  });
});
