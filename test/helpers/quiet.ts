/**
 * Waiting for a quieter moment on a shared machine before a timing
 * measurement: until the CPUs were at least half idle over 300 ms, or
 * maxWaitMs passed (then it measures anyway).
 */
import fs from 'node:fs';

function cpuTimes(): { idle: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0) };
}

export async function waitForQuiet(maxWaitMs = 5_000, idleShare = 0.5): Promise<boolean> {
  const deadline = Date.now() + maxWaitMs;
  while (Date.now() < deadline) {
    const before = cpuTimes();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = cpuTimes();
    if ((after.idle - before.idle) / Math.max(1, after.total - before.total) >= idleShare) return true;
  }
  return false;
}
