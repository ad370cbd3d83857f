#!/usr/bin/env node
// Generates lib/stream/generated/ from proto/packet_streaming.proto with
// protobufjs-cli: static code (pbjs) and its types (pbts). `npm run gen:proto`
// writes it in place; with a directory argument it writes there instead,
// which test/protocol.test.ts uses to check that the committed code is current.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.resolve(process.argv[2] || path.join(root, 'lib', 'stream', 'generated'));
const bin = (name) => path.join(root, 'node_modules', 'protobufjs-cli', 'bin', name);
fs.mkdirSync(out, { recursive: true });
const js = path.join(out, 'packet_streaming.js');
execFileSync(process.execPath, [
  bin('pbjs'), '-t', 'static-module', '-w', 'commonjs', '-r', 'wirecap',
  '--no-create', '--no-verify', '--no-convert', '--no-delimited', '--no-typeurl', '--no-service',
  '-o', js, path.join(root, 'proto', 'packet_streaming.proto'),
], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [bin('pbts'), '--no-comments', '-o', path.join(out, 'packet_streaming.d.ts'), js], { cwd: root, stdio: 'inherit' });
