#!/usr/bin/env node
// A deterministic, seeded mutation fuzzer for wirecap's readers:
//   npm run fuzz -- --cases N --seed S [--corpus DIR] [--case-ms MS] [--json]
// Case i is a function of (S, i) alone, so any finding is replayed with
// --only i. Seeds: pcap (µs and ns, both byte orders) and pcapng files made
// with wirecap's own writer, every capture file in --corpus DIR (the jest
// pass hands it the files the tests write), and collector messages. Each case mutates
// or truncates a seed and feeds it to openOffline (a named file, or standard
// input in a child, or a pcap-over-IP connection), openTrace + seek({ time | offset | fraction }), slice,
// or the collector's decodePacket; one case in eleven (every case with
// --target flows) puts 200 mutated packets of generated conversations
// through defragmentation, the flow table and TCP reassembly (flowCase). A
// finding is a crash, a hang (a case over --case-ms), an error without a
// `code`, or a flow bound not kept.
//
// --target sessions runs the sessions parsers instead (lib/sessions): each
// case mutates an HTTP exchange, a TLS handshake or QUIC Initial packets
// (sealed around a mutated hello, or mutated whole), cuts each direction
// into random segments with random gaps, and feeds one flow of a
// ParserRegistry. A parser that throws, or a record holding more than its
// bounds allow, is a finding.
//
// The cases run in a child process; this process watches it, so a crash
// or a hang in native code is reported with its case and the run goes on.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { rng } = require('./fuzz/mutate');
const { captureSeeds, messageSeeds, fileCase } = require('./fuzz/files');
const { FLOW_WINDOW, flowSeeds, flowCase } = require('./fuzz/flows');
const { sessionSeeds, sessionCase } = require('./fuzz/sessions');

const ROOT = path.join(__dirname, '..');

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      cases: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      corpus: { type: 'string' },
      'case-ms': { type: 'string', default: '5000' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
      from: { type: 'string', default: '0' },
      target: { type: 'string', default: 'all' },
    },
  });
  const args = {
    cases: Number(values.cases),
    seed: Number(values.seed),
    corpus: values.corpus ?? null,
    caseMs: Number(values['case-ms']),
    only: values.only === undefined ? null : Number(values.only),
    json: values.json,
    child: values.child,
    from: Number(values.from),
    target: values.target,
  };
  if (!['all', 'flows', 'sessions'].includes(args.target)) throw new Error("--target must be 'all', 'flows' or 'sessions'");
  for (const k of ['cases', 'seed', 'caseMs', 'from']) {
    if (!Number.isSafeInteger(args[k]) || args[k] < 0) throw new Error(`--${k} must be a non-negative integer`);
  }
  return args;
}

// --------------------------------------------------------------------------
// Cases (child process)

/** Case index of the default mix: 2 in 22 go to the conversation layer, the rest to the file targets. */
async function runCase(ctx, index) {
  const r = rng(ctx.seed, index);
  if (ctx.target === 'flows') return flowCase(ctx, r);
  const kind = r.below(22);
  if (kind >= 20) return flowCase(ctx, r);
  return fileCase(ctx, r, index, kind);
}

async function child(args) {
  const wirecap = require(ROOT);
  const protocol = require(path.join(ROOT, 'dist', 'stream', 'protocol.js'));
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'wirecap-fuzz-'));
  const sessions = args.target === 'sessions';
  const ctx = { wirecap, protocol, dir, seed: args.seed, caseMs: args.caseMs, target: args.target, seeds: sessions ? [] : captureSeeds(wirecap, dir, args.corpus), messages: messageSeeds(protocol), flowFrames: sessions ? [] : flowSeeds(), sessionSeeds: sessionSeeds() };
  const say = (line) => process.stdout.write(line + '\n');
  const end = args.only !== null ? args.only + 1 : args.cases;
  // The sessions target runs tens of thousands of cases a second: it reports every 1000 (a crash is then placed within 1000 cases; replay with --only).
  let okRun = 0;
  let okKind = '';
  const flushOk = (i) => {
    if (okRun > 0) say(`ok ${i} ${okKind} ${okRun}`);
    okRun = 0;
  };
  for (let i = args.only ?? args.from; i < end; i++) {
    if (!sessions || i % 1000 === 0) say(`start ${i}`);
    try {
      const kind = sessions ? sessionCase(ctx, rng(ctx.seed, i)) : await runCase(ctx, i);
      okKind = kind;
      okRun++;
      if (!sessions || i % 1000 === 999) flushOk(i);
    } catch (error) {
      flushOk(i);
      if (error && error.hang) say(`hang ${i} ${error.message}`);
      else if (error && typeof error.code === 'string') say(`ok ${i} ${error.code} 1`);
      else say(`nocode ${i} ${JSON.stringify(String(error && error.stack ? error.stack : error)).slice(0, 400)}`);
    }
  }
  flushOk(end - 1);
  fs.rmSync(dir, { recursive: true, force: true });
}

// --------------------------------------------------------------------------
// Watcher (parent process)

function runChild(args, from) {
  return new Promise((resolve) => {
    const argv = [__filename, '--child', '--seed', String(args.seed), '--cases', String(args.cases), '--from', String(from), '--case-ms', String(args.caseMs), '--target', args.target];
    if (args.corpus !== null) argv.push('--corpus', args.corpus);
    if (args.only !== null) argv.push('--only', String(args.only));
    const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let current = from;
    let buffered = '';
    let stderr = '';
    const events = [];
    let watchdog;
    const arm = () => {
      clearTimeout(watchdog);
      // A native call that never returns stops the child's own timers too.
      watchdog = setTimeout(() => {
        events.push({ kind: 'hang', index: current, detail: `no progress for ${args.caseMs * 3} ms` });
        proc.kill('SIGKILL');
      }, args.caseMs * 3);
    };
    arm();
    proc.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        const [kind, index, ...rest] = line.split(' ');
        current = Number(index);
        arm();
        if (kind === 'start') continue;
        events.push({ kind, index: current, detail: rest.join(' ') });
      }
    });
    proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    proc.on('close', (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal, current, events, stderr });
    });
  });
}

async function main() {
  const args = options(process.argv.slice(2));
  if (args.child) return child(args);
  const started = Date.now();
  const findings = [];
  const counts = {};
  let from = args.only ?? 0;
  const end = args.only !== null ? args.only + 1 : args.cases;
  while (from < end) {
    const run = await runChild(args, from);
    for (const e of run.events) {
      if (e.kind === 'ok') {
        const [what, n] = e.detail.split(' ');
        counts[what] = (counts[what] ?? 0) + Number(n);
      } else {
        findings.push(e);
      }
    }
    if (run.code === 0) break;
    // The child died in case run.current: a crash, unless the watchdog named it a hang.
    if (!run.events.some((e) => e.kind === 'hang' && e.index === run.current)) {
      findings.push({ kind: 'crash', index: run.current, detail: `${run.signal ?? run.code}: ${run.stderr.slice(-1500)}` });
    }
    from = run.current + 1;
  }
  const seconds = (Date.now() - started) / 1000;
  const cases = end - (args.only ?? 0);
  const summary = {
    seed: args.seed,
    cases,
    seconds: Number(seconds.toFixed(1)),
    casesPerSecond: Math.round(cases / seconds),
    flowPackets: (counts.flows ?? 0) * FLOW_WINDOW,
    crashes: findings.filter((f) => f.kind === 'crash').length,
    hangs: findings.filter((f) => f.kind === 'hang').length,
    errorsWithoutCode: findings.filter((f) => f.kind === 'nocode').length,
    outcomes: counts,
    findings: findings.slice(0, 20),
  };
  if (args.json) {
    console.log(JSON.stringify(summary));
  } else {
    console.log(`fuzz: seed ${summary.seed}, ${cases} cases in ${summary.seconds} s (${summary.casesPerSecond}/s)`);
    console.log(`  crashes ${summary.crashes}, hangs ${summary.hangs}, errors without a code ${summary.errorsWithoutCode}`);
    console.log(`  outcomes: ${JSON.stringify(counts)}; ${summary.flowPackets} packets through defragmentation, flows and reassembly`);
    for (const f of summary.findings) console.log(`  ${f.kind} in case ${f.index} (replay: --seed ${args.seed} --only ${f.index}): ${f.detail}`);
  }
  process.exitCode = findings.length === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error.message);
  process.exit(2);
});
