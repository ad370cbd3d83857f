/**
 * The in-process live-capture suites, run again through the capture helper:
 * WIRECAP_HELPER_MODE=on sends every openLive and liveDump of this jest
 * worker (and of the child nodes its tests start) through it, one file per
 * suite so that each keeps its own hooks and worker. As root the helper
 * keeps root's two network capabilities until the device is open;
 * test/helper.unprivileged.test.ts runs the same paths as a user without any.
 */
import fs from 'node:fs';
import { openLive } from '../../lib';

process.env.WIRECAP_HELPER_MODE = 'on';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('../capture.live.test');

test('with WIRECAP_HELPER_MODE=on a capture runs in a helper process, which close() reaps', () => {
  const children = (): string[] =>
    fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((p) => {
        try {
          return Number(fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === process.pid;
        } catch {
          return false;
        }
      });
  const before = children().length;
  const cap = openLive('lo', { snaplen: 512 });
  const during = children();
  expect(during.length).toBe(before + 1);
  expect(during.map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8')).join(' ')).toMatch(/wirecap-helper\0--device\0lo\0/);
  cap.close();
  expect(children().length).toBe(before);
});
