/**
 * Debian packages fetched, never installed: apt-get download through
 * scripts/debian-apt.sh (its own source list: bookworm and bullseye, amd64,
 * armhf and arm64), each unpacked with dpkg -x into one root folder, cached
 * in ~/.cache/wirecap/debian/<name> until the list changes.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './traffic';

export const CACHE = path.join(os.homedir(), '.cache', 'wirecap');

/**
 * The packages (apt-get download names: pkg:arch or pkg:arch/suite)
 * unpacked into one folder, returned; only the members matching the given
 * tar patterns when there are some.
 */
export function debianRoot(name: string, packages: string[], members: string[] = []): string {
  const root = path.join(CACHE, 'debian', name);
  const stamp = path.join(root, '.packages');
  const list = [...packages, ...members].join('\n');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === list) return root;
  fs.rmSync(root, { recursive: true, force: true });
  const debs = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-debs-'));
  try {
    execFileSync('bash', [path.join(ROOT, 'scripts', 'debian-apt.sh'), 'download', ...packages], { cwd: debs, stdio: ['ignore', 'ignore', 'inherit'] });
    fs.mkdirSync(root, { recursive: true });
    for (const deb of fs.readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
      const file = path.join(debs, deb);
      if (members.length === 0) execFileSync('dpkg', ['-x', file, root]);
      else execFileSync('sh', ['-c', 'r=$1; shift; dpkg-deb --fsys-tarfile "$0" | tar -x -C "$r" --wildcards "$@"', file, root, ...members]);
    }
  } finally {
    fs.rmSync(debs, { recursive: true, force: true });
  }
  fs.writeFileSync(stamp, list);
  return root;
}

/** npm package pkg@version unpacked once into the cache; returns its package/ folder. */
export function npmPackage(pkg: string, version: string): string {
  const dir = path.join(CACHE, `${pkg.replace(/[@/]/g, '_')}-${version}`);
  const unpacked = path.join(dir, 'package');
  if (!fs.existsSync(unpacked)) {
    fs.mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    execFileSync('tar', ['-xzf', path.join(dir, tgz), '-C', dir]);
  }
  return unpacked;
}
