// bench/leaks.js at a small scale (the full counts are in bench/RESULTS.md):
// every kind of handle, opened, used and closed in rounds, gives back its
// descriptors and threads and does not grow RSS after the first round.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describeLive } from './helpers/live';
import { ROOT } from './helpers/traffic';

describeLive('open/use/close cycles', () => {
  test('offline files, trace navigators, live captures, live dumps and collector streams: descriptors and threads back, RSS flat', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', path.join(ROOT, 'bench', 'leaks.js'), '--scale', '0.02', '--rounds', '4', '--json'], {
      encoding: 'utf8',
      timeout: 120000,
    });
    const results = JSON.parse(run.stdout.trim().split('\n').pop()!) as { kind: string; fdDelta: number; threadDelta: number; growthAfterFirstRoundMB: number }[];
    expect(results.map((r) => r.kind)).toEqual(['openOffline', 'openTrace', 'openLive', 'liveDump', 'collectorStream']);
    for (const r of results) {
      expect({ kind: r.kind, fdDelta: r.fdDelta, threadDelta: r.threadDelta }).toEqual({ kind: r.kind, fdDelta: 0, threadDelta: 0 });
      // Under scripts/test-asan.sh the allocator's quarantine holds freed memory: RSS tells nothing there.
      if (!process.env.ASAN_OPTIONS) expect(r.growthAfterFirstRoundMB).toBeLessThan(5);
    }
  });
});
