/**
 * The in-process live-capture suite, run again through the capture helper:
 * WIRECAP_HELPER_MODE=on sends every openLive and liveDump of this jest
 * worker (and of the child nodes its tests start) through it. As root the
 * helper keeps root's two network capabilities until the device is open;
 * test/helper.unprivileged.test.ts runs the same paths as a user without any.
 */
process.env.WIRECAP_HELPER_MODE = 'on';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./capture.live.test');
