/**
 * Live tests capture on `lo` and need root (or CAP_NET_RAW). Outside CI a
 * user without it sees them skipped with the reason in the title; in CI
 * (CI=true) they run regardless, so a missing permission fails them.
 */
const canCapture = process.getuid?.() === 0 || process.env.CI === 'true';

export const describeLive: jest.Describe = canCapture
  ? describe
  : (((name: string, fn: () => void) =>
      describe.skip(`${name} (skipped: needs root to capture on lo)`, fn)) as unknown as jest.Describe);
