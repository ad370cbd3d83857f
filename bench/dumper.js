'use strict';
// wirecap's side of bench/dump.js and bench/multidump.js: a liveDump in its
// own process, so that its CPU time is its own. Several devices
// (comma-separated) are saved into one pcapng file.
//   node dumper.js <port> <bufferBytes> <file> [devices (default lo)]
// Prints "ready" on stderr once capturing; on SIGTERM stops the dump and
// prints its result as JSON.
const { liveDump } = require('..');

const [port, bufferSize, file, devices = 'lo'] = process.argv.slice(2);
const list = devices.split(',');
const dump = liveDump(list.length > 1 ? list : list[0], file, { filter: `udp and dst port ${port}`, bufferSize: Number(bufferSize) });
process.once('SIGTERM', () => void dump.stop());
process.stderr.write('ready\n');
dump.done.then((result) => process.stdout.write(`${JSON.stringify({ ...result, error: result.error?.code })}\n`));
