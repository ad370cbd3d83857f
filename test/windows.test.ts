// The win32-x64 prebuild in Windows node.exe under wine (test/helpers/wine.ts):
// loading, devices, a real loopback capture, a dump with limits, the missing
// wpcap.dll error, and the kernel-dump decision against two test DLLs that
// wrap Wine's wpcap.dll (test/fixtures/live_dump_shim_win.c).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { filePackets, tcpdumpRead } from './helpers/tools';
import { openOffline, trackFlows } from '../lib';
import { pcapBytes, referenceRead, syntheticPackets, type TracePacket } from './helpers/trace';
import { ROOT } from './helpers/traffic';
import { windowsNode, WindowsNode, windowsUnavailable } from './helpers/wine';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { tcpConversations } = require('./helpers/conversations.js');

const unavailable = windowsUnavailable();
if (unavailable !== null) {
  // Said aloud, so a CI log shows why the Windows suite did not run.
  console.warn(`Windows tests skipped: ${unavailable}`);
}
const describeWindows = unavailable === null && process.getuid?.() === 0 ? describe : describe.skip;

// The shipped mingw build, and the Zig route that builds win32-arm64, built
// for x64 (scripts/prebuild.sh win32-x64-zig): the closest run of the
// win32-arm64 prebuild these machines allow. Each runs every test below.
const ZIG_BUILD = path.join(ROOT, 'checked', 'win32-x64-zig', 'wirecap.node');
const BUILDS = [
  { build: 'mingw-w64 (shipped)', addon: undefined },
  { build: 'Zig (the win32-arm64 route)', addon: ZIG_BUILD },
];

jest.setTimeout(180000);

let win: WindowsNode;
let dir: string;

/** The last line the script printed, as JSON; the whole output on failure. */
function lastJson(output: string): Record<string, unknown> {
  const line = output.trim().split(/\r?\n/).pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`node.exe printed: ${output}`);
  }
}

/** A script prologue: wirecap from the staged package, a loopback sink, a sender of n datagrams. */
function script(body: string): string {
  return `
    const wirecap = require(${JSON.stringify(win.packageDir)});
    const dgram = require('node:dgram');
    const pause = (ms) => new Promise((r) => setTimeout(r, ms));
    const sink = dgram.createSocket('udp4');
    const tx = dgram.createSocket('udp4');
    const send = async (port, n, tag) => {
      for (let i = 0; i < n; i++) { await new Promise((r) => tx.send(tag + ':' + i, port, '127.0.0.1', r)); await pause(2); }
    };
    (async () => {
      await new Promise((r) => sink.bind(0, '127.0.0.1', r));
      const port = sink.address().port;
      const lo = wirecap.devices().find((d) => d.flags.loopback);
      ${body}
    })()
      .catch((e) => console.log(JSON.stringify({ thrown: e.code, message: e.message })))
      .finally(() => { sink.close(); tx.close(); });`;
}

describeWindows.each(BUILDS)('the $build win32-x64 build under wine', ({ addon }) => {
  beforeAll(() => {
    if (addon !== undefined && !fs.existsSync(addon)) throw new Error(`${addon} is missing: scripts/prebuild.sh win32-x64-zig builds it`);
    win = windowsNode(addon);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-win-files-'));
  });
  afterAll(() => {
    win?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('loads the win32-x64 prebuild through node-gyp-build and lists \\Device\\NPF_ devices with their friendly names', async () => {
    const r = await win.run(`
      const wirecap = require(${JSON.stringify(win.packageDir)});
      const addon = require(require.resolve('node-gyp-build', { paths: [${JSON.stringify(win.packageDir)}] })).path(${JSON.stringify(win.packageDir)});
      const sha256 = require('node:crypto').createHash('sha256').update(require('node:fs').readFileSync(addon)).digest('hex');
      console.log(JSON.stringify({ platform: process.platform, addon, sha256, version: wirecap.libVersion(), devices: wirecap.devices() }));`);
    const out = lastJson(r.output);
    expect(out.platform).toBe('win32');
    expect(out.addon).toMatch(/prebuilds\\win32-x64\\wirecap\.node$/);
    // The build this block is about, not the other one.
    expect(out.sha256).toBe(createHash('sha256').update(fs.readFileSync(addon ?? path.join(ROOT, 'prebuilds', 'win32-x64', 'wirecap.node'))).digest('hex'));
    expect(out.version).toMatch(/libpcap version/);
    const lo = (out.devices as { name: string; description: string; flags: { loopback: boolean } }[]).find((d) => d.flags.loopback);
    expect(lo?.name).toMatch(/^\\Device\\NPF_\{[0-9A-F-]+\}$/);
    expect(lo?.description).toBe('lo');
  });

  test('captures real loopback traffic, then dumps it with a packet limit in user mode, saying why not kernel', async () => {
    const file = path.join(dir, 'win.pcap');
    const r = await win.run(
      script(`
        const cap = wirecap.openLive(lo.name, { filter: 'udp and dst port ' + port, timeoutMs: 10 });
        const sending = pause(200).then(() => send(port, 5, 'win'));
        let n = 0;
        for await (const p of cap) if (++n === 5) break;
        await sending;
        const d = wirecap.liveDump(lo.name, ${JSON.stringify(win.windowsPath(file))}, { filter: 'udp and dst port ' + port, maxPackets: 3, timeoutMs: 10 });
        const endedBefore = d.ended;
        await pause(200);
        await send(port, 6, 'dump');
        const result = await d.done;
        console.log(JSON.stringify({ captured: n, endedBefore, endedAfter: d.ended, ...result }));`),
    );
    const out = lastJson(r.output);
    expect(out).toMatchObject({ captured: 5, endedBefore: false, endedAfter: true, packets: 3, reason: 'maxPackets', mode: 'user' });
    expect(out.kernelError).toMatch(/no pcap_live_dump/);
    expect(tcpdumpRead(file).complaints).toBe('');
    const inFile = filePackets(file).map((p) => Buffer.from(p.hex, 'hex').subarray(42).toString());
    expect(inFile).toEqual(['dump:0', 'dump:1', 'dump:2']);
  });

  test('reads pcap and pcapng files as libpcap does, seeks by time to the packet a linear scan finds, and refuses a filter it cannot run with ENOTSUP', async () => {
    const pcap = path.join(dir, 'read.pcap');
    fs.writeFileSync(pcap, pcapBytes(syntheticPackets(3000), { nano: true }));
    const pcapng = path.join(dir, 'read.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', pcap, pcapng]);
    const digest = (rows: string[]): string => createHash('sha256').update(rows.join('\n')).digest('hex');
    for (const file of [pcap, pcapng]) {
      const reference = referenceRead(file).packets;
      const times = [0, 1, 700, 1999, 2999].map((i) => reference[i].timestamp + 1n);
      const r = await win.run(`
        const wirecap = require(${JSON.stringify(win.packageDir)});
        const crypto = require('node:crypto');
        (async () => {
          const file = ${JSON.stringify(win.windowsPath(file))};
          const rows = [];
          for await (const p of wirecap.openOffline(file)) rows.push([p.timestamp, p.caplen, p.len, p.data.toString('hex')].join(' '));
          const seeks = [];
          for (const time of ${JSON.stringify(times.map(String))}) {
            const cap = wirecap.openOffline(file, { seek: { time: BigInt(time) } });
            const next = [];
            for await (const p of cap) if (next.push(String(p.timestamp)) === 2) break;
            seeks.push(next);
          }
          let filter;
          try {
            for await (const _ of wirecap.openOffline(file, { filter: 'udp' })) {}
            filter = 'ran';
          } catch (e) {
            filter = e.code;
          }
          console.log(JSON.stringify({ count: rows.length, digest: crypto.createHash('sha256').update(rows.join('\\n')).digest('hex'), seeks, filter }));
        })().catch((e) => console.log(JSON.stringify({ thrown: e.code, message: e.message })));`);
      const out = lastJson(r.output);
      expect(out.count).toBe(reference.length);
      expect(out.digest).toBe(digest(reference.map((p) => [p.timestamp, p.caplen, p.len, p.hex].join(' '))));
      // The first packet at or after each time, as a linear scan finds it.
      expect(out.seeks).toEqual(
        times.map((t) => reference.filter((p) => p.timestamp >= t).slice(0, 2).map((p) => String(p.timestamp))),
      );
      // Wine's wpcap.dll has no pcap_open_dead or pcap_offline_filter: a filtered file read says so.
      expect(out.filter).toBe('ENOTSUP');
    }
  });

  test("tracks a trace's flows through the native fast path as the Linux build does: the same flows, in the same order", async () => {
    const frames: TracePacket[] = tcpConversations({ seed: 3, connections: 200, v6: 0.4, wrap: 0.3, midstream: 0.1, drop: 0.05, duplicate: 0.1, reorder: 0.1 }).frames;
    const file = path.join(dir, 'flows.pcap');
    fs.writeFileSync(file, pcapBytes(frames, { nano: true }));
    // The flows as text (bigints as decimal strings), hashed: here, and in node.exe.
    const local: string[] = [];
    for await (const f of trackFlows(openOffline(file))) local.push(JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    const r = await win.run(`
      const wirecap = require(${JSON.stringify(win.packageDir)});
      const crypto = require('node:crypto');
      (async () => {
        const rows = [];
        for await (const f of wirecap.trackFlows(wirecap.openOffline(${JSON.stringify(win.windowsPath(file))}))) rows.push(JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
        console.log(JSON.stringify({ count: rows.length, digest: crypto.createHash('sha256').update(rows.join('\\n')).digest('hex') }));
      })().catch((e) => console.log(JSON.stringify({ thrown: e.code, message: e.message })));`);
    expect(local.length).toBeGreaterThan(150);
    expect(lastJson(r.output)).toEqual({ count: local.length, digest: createHash('sha256').update(local.join('\n')).digest('hex') });
  });

  test('without wpcap.dll (WINEDLLOVERRIDES=wpcap=) the first call throws ELIBPCAP naming Npcap', async () => {
    const r = await win.run(
      `const wirecap = require(${JSON.stringify(win.packageDir)});
       try { wirecap.devices(); console.log('{}'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
      { WINEDLLOVERRIDES: 'wpcap=' },
    );
    const out = lastJson(r.output);
    expect(out.code).toBe('ELIBPCAP');
    expect(out.message).toMatch(/Npcap/);
    expect(out.message).toMatch(/WinPcap API-compatible Mode/);
  });

  test("doctor: Npcap open to every user; with Npcap's AdminOnly registry value set it says so and names the fix", async () => {
    // The value Npcap's installer writes for "Restrict Npcap driver's access to Administrators only"; removed again.
    const r = await win.run(`
      const { execFileSync } = require('node:child_process');
      const { doctor } = require(${JSON.stringify(`${win.packageDir}\\dist\\helper\\doctor.js`)});
      const key = 'HKLM\\\\SYSTEM\\\\CurrentControlSet\\\\Services\\\\npcap\\\\Parameters';
      const open = doctor();
      execFileSync('reg', ['add', key, '/v', 'AdminOnly', '/t', 'REG_DWORD', '/d', '1', '/f'], { stdio: 'ignore' });
      let restricted;
      try { restricted = doctor(); } finally { execFileSync('reg', ['delete', key, '/f'], { stdio: 'ignore' }); }
      console.log(JSON.stringify({ open, restricted }));`);
    const out = lastJson(r.output) as Record<string, { name: string; ok: boolean; detail: string; fix?: string }[]>;
    expect(out.open.map((c) => [c.name, c.ok])).toEqual([
      ['libpcap', true],
      ['Npcap', true],
      ['devices', true],
    ]);
    expect(out.open[1]).toMatchObject({ detail: 'open to every user' });
    expect(out.restricted[1]).toMatchObject({ name: 'Npcap', ok: false, detail: expect.stringContaining('Administrators only'), fix: expect.stringContaining('run as Administrator') });
  });

  test('a wpcap.dll in System32\\Npcap is loaded before the one on the search path', async () => {
    // A wpcap.dll that has only pcap_lib_version: loading it, not Wine's, gives "lacks".
    const npcap = path.join(win.system32, 'Npcap');
    fs.mkdirSync(npcap, { recursive: true });
    const source = path.join(dir, 'lone.c');
    fs.writeFileSync(source, '__declspec(dllexport) const char* pcap_lib_version(void) { return "lone"; }\n');
    execFileSync('x86_64-w64-mingw32-gcc', ['-shared', '-o', path.join(npcap, 'wpcap.dll'), source]);
    try {
      const r = await win.run(
        `const wirecap = require(${JSON.stringify(win.packageDir)});
         try { wirecap.devices(); console.log('{}'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
        { WINEDLLOVERRIDES: 'wpcap=n,b' }, // Wine loads its builtin wpcap.dll even by path unless told native first
      );
      expect(lastJson(r.output)).toMatchObject({ code: 'ELIBPCAP', message: expect.stringContaining('lacks pcap_findalldevs') });
    } finally {
      fs.rmSync(npcap, { recursive: true, force: true });
    }
  });

  describe('kernel dump through a wpcap.dll that has pcap_live_dump', () => {
    let shim: string;
    let refusing: string;
    beforeAll(() => {
      // Forward everything wirecap loads to wpcap.dll, except what the shim defines.
      const own = new Set(['pcap_live_dump', 'pcap_live_dump_ended', 'pcap_close']);
      const names = [...fs.readFileSync(path.join(ROOT, 'src-native', 'loader', 'pcap_api.cc'), 'utf8').matchAll(/\{"((?:pcap|bpf)_[a-z_]+)"/g)].map((m) => m[1]);
      const def = ['EXPORTS', ...names.filter((n) => !own.has(n)).map((n) => `  ${n}=wpcap.${n}`)].join('\n');
      const source = path.join(ROOT, 'test', 'fixtures', 'live_dump_shim_win.c');
      fs.writeFileSync(path.join(dir, 'shim.def'), `${def}\n`);
      shim = path.join(dir, 'kernel_dump.dll');
      refusing = path.join(dir, 'refusing_dump.dll');
      for (const [out, defines] of [[shim, []], [refusing, ['-DREFUSE']]] as const) {
        execFileSync('x86_64-w64-mingw32-gcc', ['-shared', '-O2', ...defines, '-o', out, source, path.join(dir, 'shim.def')]);
      }
    });

    const dumpScript = (file: string, options: object): string =>
      script(`
        const d = wirecap.liveDump(lo.name, ${JSON.stringify(win.windowsPath(file))}, { filter: 'udp and dst port ' + port, timeoutMs: 10, ...${JSON.stringify(options)} });
        const endedBefore = d.ended;
        await pause(300);
        await send(port, 8, 'kernel');
        const result = await d.done;
        console.log(JSON.stringify({ endedBefore, endedAfter: d.ended, ...result }));`);

    test("auto starts it and reports mode 'kernel'; maxPackets ends it, ended and done as in user mode", async () => {
      const file = path.join(dir, 'kernel.pcap');
      const r = await win.run(dumpScript(file, { maxPackets: 4 }), { WIRECAP_LIBPCAP: win.windowsPath(shim) });
      const out = lastJson(r.output);
      expect(out).toMatchObject({ endedBefore: false, endedAfter: true, mode: 'kernel', reason: 'maxPackets', packets: 4 });
      expect(out.kernelError).toBeUndefined();
      expect(filePackets(file).map((p) => Buffer.from(p.hex, 'hex').subarray(42).toString())).toEqual(['kernel:0', 'kernel:1', 'kernel:2', 'kernel:3']);
    });

    test("a library that refuses, as Npcap does: auto falls back to user mode with its words; 'kernel' throws ENOTSUP", async () => {
      const file = path.join(dir, 'refused.pcap');
      const env = { WIRECAP_LIBPCAP: win.windowsPath(refusing) };
      const out = lastJson((await win.run(dumpScript(file, { maxPackets: 4 }), env)).output);
      expect(out).toMatchObject({ endedBefore: false, endedAfter: true, mode: 'user', reason: 'maxPackets', packets: 4, kernelError: "Npcap doesn't support kernel dump mode" });
      const forced = lastJson((await win.run(dumpScript(file, { mode: 'kernel' }), env)).output);
      expect(forced).toMatchObject({ thrown: 'ENOTSUP', message: expect.stringContaining("Npcap doesn't support kernel dump mode") });
    });
  });
});
