'use strict';
// What the live benchmarks share: starting a consumer process and waiting
// until it captures, its peak RSS and CPU time from /proc, and the loopback
// UDP load from bench/udp_blast.c (built by bench/build.sh).
const { execFileSync, spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const BIN = path.join(__dirname, 'bin');
const PAYLOAD = 64;

/** Spawns cmd; `ready` resolves once it says readyText on stderr and rejects if it exits first. */
function start(cmd, args, readyText) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const ready =
    readyText &&
    new Promise((resolve, reject) => {
      child.stderr.on('data', () => stderr.includes(readyText) && resolve());
      child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${stderr}`)));
    });
  const exited = new Promise((resolve) => child.on('close', () => resolve({ stdout, stderr })));
  return { child, ready, exited };
}

function peakRssMB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
}

/**
 * CPU seconds that process pid's live threads have run, from the scheduler's
 * nanosecond counters (/proc/<pid>/stat counts in 10 ms ticks, too coarse
 * for a load of a few seconds). Measure over a window in which no thread exits.
 */
function cpuSeconds(pid) {
  let ns = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns / 1e9;
}

/** Sends `payload`-byte datagrams to 127.0.0.1:port at rate/s (0: as fast as possible) for seconds, or until count went out. */
async function blast(port, rate, seconds, payload = PAYLOAD, count = 50000000) {
  // A bound socket receives the datagrams: a closed port would answer each
  // with ICMP and make the sender's connected socket fail (ECONNREFUSED).
  const sink = dgram.createSocket('udp4');
  await new Promise((resolve) => sink.bind(port, '127.0.0.1', resolve));
  const sender = start(path.join(BIN, 'udp_blast'), [String(port), String(count), String(seconds * 1000), String(rate), String(payload)], null);
  const { stdout } = await sender.exited;
  sink.close();
  return JSON.parse(stdout);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A bench's report: out() prints a line and keeps it, save() writes the lines
 * to bench/out/<name>.md. The first line says when, and on what machine.
 */
function report(name) {
  const lines = [];
  const out = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  const version = execFileSync(process.execPath, ['-p', "require('..').libVersion()"], { cwd: __dirname, encoding: 'utf8' }).trim();
  out(`Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0].model}), kernel ${os.release()}, ${version}, node ${process.version}.`);
  const save = () => {
    fs.mkdirSync(path.join(__dirname, 'out'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'out', `${name}.md`), `${lines.join('\n')}\n`);
  };
  return { out, save };
}

module.exports = { BIN, PAYLOAD, blast, cpuSeconds, peakRssMB, report, sleep, start };
