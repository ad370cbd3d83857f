#!/usr/bin/env node
// Copies the generated protobuf code (lib/stream/generated/, plain JavaScript
// with its declarations) into dist/, which tsc does not do for .js sources.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
fs.cpSync(path.join(root, 'lib', 'stream', 'generated'), path.join(root, 'dist', 'stream', 'generated'), { recursive: true });
