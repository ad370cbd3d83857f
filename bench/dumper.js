'use strict';
// wirecap's side of bench/dump.js: a liveDump in its own process, so that
// its CPU time is its own.
//   node dumper.js <port> <bufferBytes> <file>
// Prints "ready" on stderr once capturing; on SIGTERM stops the dump and
// prints its result as JSON.
const { liveDump } = require('..');

const [port, bufferSize, file] = process.argv.slice(2);
const dump = liveDump('lo', file, { filter: `udp and dst port ${port}`, bufferSize: Number(bufferSize) });
process.once('SIGTERM', () => void dump.stop());
process.stderr.write('ready\n');
dump.done.then((result) => process.stdout.write(`${JSON.stringify({ ...result, error: result.error?.code })}\n`));
