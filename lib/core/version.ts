/** The package's version, from its package.json (two folders up from lib/core and dist/core). */
import fs from 'node:fs';
import path from 'node:path';

export const VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
