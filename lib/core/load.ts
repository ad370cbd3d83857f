/**
 * Loads the native addon through node-gyp-build, and says what to do when
 * it cannot: which prebuild failed, what it needs of the OS, what this
 * system is, and the one command that builds the addon from source.
 */
import os from 'node:os';
import path from 'node:path';
import { WirecapError } from './errors';

/** Builds build/Release, which node-gyp-build then prefers over the prebuilds (README, Install). */
export const BUILD_FROM_SOURCE = 'cd node_modules/wirecap && npx node-gyp rebuild';

/** What each shipped prebuild needs (scripts/prebuild.sh; README, Platforms). */
export const NEEDS: Record<string, string> = {
  'linux-x64': 'glibc 2.17 or later',
  'linux-arm64': 'glibc 2.17 or later',
  'linux-arm': 'glibc 2.17 or later',
  'linux-x64-musl': "musl's libc",
  'linux-arm64-musl': "musl's libc",
  'darwin-x64': 'macOS 11.0 or later',
  'darwin-arm64': 'macOS 11.0 or later',
  'win32-x64': 'Windows 10 or later',
  'win32-arm64': 'Windows 10 or later on ARM64',
};

/** The OS as the NEEDS lines name it: macOS and glibc versions, not only the kernel's. */
function thisSystem(): string {
  const release = os.release();
  if (process.platform === 'darwin') {
    // Darwin 20-24 are macOS 11-15; Darwin 19 is 10.15.
    const major = Number(release.split('.')[0]);
    const macos = major >= 20 && major <= 24 ? `${major - 9}` : major === 19 ? '10.15' : null;
    return `${macos === null ? 'macOS' : `macOS ${macos}`} (Darwin ${release})`;
  }
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return `Linux ${release}, ${header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'no glibc (musl?)'}`;
  }
  return `${os.version()} ${release}`;
}

/** The error for an addon file that exists but failed to load (an older OS, a missing symbol...). */
export function loadFailure(file: string, root: string, cause: Error): WirecapError {
  const relative = path.relative(root, file);
  const parts = relative.split(path.sep);
  const reason = cause.message.split('\n')[0];
  let message: string;
  if (parts[0] === 'prebuilds' && parts.length === 3) {
    // node-gyp-build's tags: wirecap.musl.node beside wirecap.glibc.node.
    const target = parts[2].includes('.musl.') ? `${parts[1]}-musl` : parts[1];
    const needs = NEEDS[target];
    message =
      `wirecap's prebuilt addon for ${target} (${parts.join('/')}) failed to load: ${reason}. ` +
      `It needs ${needs ?? 'a newer system'}; this system is ${thisSystem()}. ` +
      `Build it from source instead: ${BUILD_FROM_SOURCE}`;
  } else {
    message = `wirecap's addon ${relative} failed to load: ${reason}. Rebuild it: ${BUILD_FROM_SOURCE}`;
  }
  const error = new WirecapError(message, 'ELOAD');
  (error as Error & { cause?: unknown }).cause = cause;
  return error;
}

/** node-gyp-build's choice for this platform, loaded; a WirecapError ELOAD saying what to do otherwise. */
export function loadAddon(root: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const gypBuild = require('node-gyp-build') as { (dir: string): unknown; path(dir: string): string };
  try {
    return gypBuild(root);
  } catch (failure) {
    let file: string;
    try {
      file = gypBuild.path(root);
    } catch (none) {
      const error = new WirecapError(
        `wirecap has no prebuilt addon for ${process.platform}-${process.arch} (${thisSystem()}). Build it from source: ${BUILD_FROM_SOURCE}`,
        'ELOAD',
      );
      (error as Error & { cause?: unknown }).cause = none;
      throw error;
    }
    throw loadFailure(file, root, failure as Error);
  }
}
