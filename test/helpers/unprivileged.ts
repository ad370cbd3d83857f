/**
 * An unprivileged user for the capture helper's tests: made with useradd
 * and removed after, in a group of its own that `wirecap grant` names. Node
 * runs as it through setpriv (uid and gid not 0, no capabilities of any
 * kind). The helper tested is a COPY of the build's, granted by the CLI,
 * so the repository's build is never altered.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './traffic';

export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const BUILT_HELPER = path.join(ROOT, 'build', 'Release', 'wirecap-helper');

export interface Unprivileged {
  user: string;
  uid: number;
  group: string;
  gid: number;
  /** A temporary folder everyone may enter (0755): the helper copies live here. */
  dir: string;
  /** A folder of the user's own, for its dumps. */
  outDir: string;
  /** A copy granted with `wirecap grant --group <group>`, and one never granted. */
  granted: string;
  plain: string;
  /** The command prefix that runs a program as the user. */
  wrapper: string[];
  remove(): void;
}

/** Runs the wirecap CLI as root with WIRECAP_HELPER set to helper. */
export function cliAsRoot(helper: string, ...args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, WIRECAP_HELPER: helper } });
}

/** A copy of the built helper at file, as the build leaves it (root, 0755, no capabilities). */
export function copyHelper(file: string): string {
  fs.copyFileSync(BUILT_HELPER, file);
  fs.chmodSync(file, 0o755);
  return file;
}

/**
 * For the LD_* tests: a folder under parent (open to all) holding a
 * library, built by compile(lib, source), whose constructor appends the
 * path of each program that loads it to marker, a file anyone may write.
 */
export function markerLibrary(parent: string, name: string, compile: (lib: string, source: string) => void): { dir: string; marker: string; lib: string } {
  const dir = fs.mkdtempSync(path.join(parent, 'marker-'));
  fs.chmodSync(dir, 0o755);
  const marker = path.join(dir, 'loaded');
  const source = path.join(dir, 'marker.c');
  fs.writeFileSync(source, markerSource(marker));
  const lib = path.join(dir, name);
  compile(lib, source);
  fs.writeFileSync(marker, '');
  fs.chmodSync(marker, 0o666);
  return { dir, marker, lib };
}

/** C source of a library whose constructor appends the path of each program that loads it to marker: who loaded it. */
function markerSource(marker: string): string {
  return `#include <fcntl.h>\n#include <unistd.h>\n__attribute__((constructor)) static void mark(void) { char exe[4096]; ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1); int fd = open("${marker}", O_CREAT | O_WRONLY | O_APPEND, 0666); if (fd >= 0 && n > 0) { exe[n++] = '\\n'; write(fd, exe, n); close(fd); } }\n`;
}

/** Runs a command whose failure does not matter (removing what may not exist). */
function quietly(cmd: string, ...args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // nothing to remove
  }
}

/** SIGKILLs every process whose real uid is uid (a test that failed may leave one). */
function killAllOf(uid: number): void {
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) === uid) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * The test user runs node on this checkout, so every folder above it must let
 * others pass through. A checkout in a private folder (`git clone . "$(mktemp
 * -d)"`, mode 0700) would not: such folders get o+x (pass through, not list),
 * said on stderr, and keep it (test files run side by side, so none can
 * restore it safely).
 */
function letOthersThrough(dir: string): void {
  for (let d = dir; ; d = path.dirname(d)) {
    const mode = fs.statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(d, mode | 0o001);
      console.warn(`the unprivileged tests gave ${d} o+x (it was ${mode.toString(8)}), so their user can run node from this checkout`);
    }
    if (d === path.dirname(d)) break;
  }
}

export function makeUnprivileged(label: string): Unprivileged {
  letOthersThrough(ROOT);
  const tag = `${label}${process.pid % 100000}`;
  const user = `wcu${tag}`;
  const group = `wcg${tag}`;
  // A run that was killed may have left them (the same pid, later).
  quietly('userdel', user);
  quietly('groupdel', group);
  execFileSync('groupadd', [group]);
  try {
    execFileSync('useradd', ['-M', '-r', '-s', '/usr/sbin/nologin', '-G', group, user]);
  } catch (error) {
    quietly('userdel', user);
    quietly('groupdel', group);
    throw error;
  }
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wirecap-${label}-`));
  fs.chmodSync(dir, 0o755);
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir);
  fs.chownSync(outDir, uid, uid);
  const granted = copyHelper(path.join(dir, 'wirecap-helper'));
  cliAsRoot(granted, 'grant', '--group', group);
  const plain = copyHelper(path.join(dir, 'wirecap-helper-plain'));
  return {
    user,
    uid,
    group,
    gid,
    dir,
    outDir,
    granted,
    plain,
    wrapper: ['setpriv', '--reuid', user, '--regid', user, '--init-groups', '--inh-caps=-all', '--'],
    remove() {
      killAllOf(uid);
      execFileSync('userdel', [user]);
      execFileSync('groupdel', [group]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
