/**
 * A musl userland for Bun's musl builds on a Debian host, for the tests of
 * the musl prebuilds: one folder of libraries that musl's loader searches
 * (LD_LIBRARY_PATH). It is not Alpine: Bun's musl build needs a musl
 * libstdc++.so.6, which Debian lacks, so Debian's own libstdc++.so.6 and
 * libgcc_s.so.1 stand in, with test/fixtures/musl-glibc-shim.c for what
 * they take from glibc; libpcap is Debian's source built for musl
 * (scripts/musl-libpcap.sh).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CACHE } from './debian';
import { ROOT } from './traffic';

export type MuslArch = 'x86_64' | 'aarch64';

/** The glibc loader's name on arch: the shim takes it, as x86_64's libstdc++.so.6 needs it. */
const GLIBC_LOADER: Record<MuslArch, string> = { x86_64: 'ld-linux-x86-64.so.2', aarch64: 'ld-linux-aarch64.so.1' };

/**
 * The environment of a musl Bun whose libraries are in dir (as the runtime
 * sees it): musl's search path, the shim preloaded, and LIBC=musl, which is
 * how node-gyp-build tells musl from glibc off Alpine.
 */
export const muslEnv = (arch: MuslArch, dir: string): Record<string, string> => ({
  LD_LIBRARY_PATH: dir,
  LD_PRELOAD: path.join(dir, GLIBC_LOADER[arch]),
  LIBC: 'musl',
});

/** Fills (once) and returns the library folder for arch, with Debian's libstdc++ and libgcc_s taken from the first of gnuLibDirs that has each. */
export function muslLibraries(arch: MuslArch, gnuLibDirs: string[]): string {
  const dir = path.join(CACHE, `musl-libraries-${arch}`);
  const done = path.join(dir, '.done-v2');
  if (fs.existsSync(done)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const lib of ['libstdc++.so.6', 'libgcc_s.so.1']) {
    const from = gnuLibDirs.map((d) => path.join(d, lib)).find((f) => fs.existsSync(f));
    if (!from) throw new Error(`no ${lib} in ${gnuLibDirs.join(', ')}`);
    fs.copyFileSync(fs.realpathSync(from), path.join(dir, lib));
  }
  const zig = path.join(ROOT, 'scripts', 'zig.sh');
  const shim = path.join(ROOT, 'test', 'fixtures', 'musl-glibc-shim.c');
  execFileSync('bash', [zig, 'cc', '-target', `${arch}-linux-musl`, '-shared', '-fPIC', '-O2', '-s', '-o', path.join(dir, GLIBC_LOADER[arch]), shim], { stdio: 'inherit' });
  const libpcap = execFileSync('bash', [path.join(ROOT, 'scripts', 'musl-libpcap.sh'), arch], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  fs.copyFileSync(path.join(libpcap, 'libpcap.so.1'), path.join(dir, 'libpcap.so.1'));
  // Bun asks for Alpine's name of musl's libc, which is musl's loader itself.
  fs.symlinkSync(`/lib/ld-musl-${arch}.so.1`, path.join(dir, `libc.musl-${arch}.so.1`));
  fs.writeFileSync(done, '');
  return dir;
}
