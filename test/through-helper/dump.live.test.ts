// test/dump.live.test.ts run again through the capture helper: WIRECAP_HELPER_MODE=on
// sends every openLive and liveDump of this jest worker (and of the child
// nodes its tests start) through it (see test/through-helper/capture.live.test.ts).
process.env.WIRECAP_HELPER_MODE = 'on';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('../dump.live.test');
