import { compileFilter, openLive, WirecapError } from '../lib';
import { describeLive } from './helpers/live';
import { markedPayloads, runNode, sendUdp, udpSink } from './helpers/traffic';

/** Runs fn and returns what it threw. */
function thrown(fn: () => unknown): WirecapError {
  try {
    fn();
  } catch (error) {
    return error as WirecapError;
  }
  throw new Error('expected a throw');
}

describe('invalid arguments throw EINVAL before anything native runs', () => {
  test.each([
    ['an empty device name', () => openLive('')],
    ['a device that is not a string', () => openLive(42 as unknown as string)],
    ['options that are not an object', () => openLive('lo', 'fast' as never)],
    ['an unknown option', () => openLive('lo', { snaplenn: 100 } as never)],
    ['snaplen 0', () => openLive('lo', { snaplen: 0 })],
    ['snaplen above 262144', () => openLive('lo', { snaplen: 262145 })],
    ['a fractional snaplen', () => openLive('lo', { snaplen: 1.5 })],
    ['a non-boolean promisc', () => openLive('lo', { promisc: 'yes' as never })],
    ['a tiny bufferSize', () => openLive('lo', { bufferSize: 10 })],
    ['timeoutMs 0', () => openLive('lo', { timeoutMs: 0 })],
    ['an unknown precision', () => openLive('lo', { precision: 'pico' as never })],
    ['an unknown direction', () => openLive('lo', { direction: 'sideways' as never })],
    ['a queueBytes below 64 KiB', () => openLive('lo', { queueBytes: 1000 })],
    ['a signal that is not an AbortSignal', () => openLive('lo', { signal: {} as never })],
    ['a filter with a NUL byte', () => openLive('lo', { filter: 'udp\0' })],
    ['compileFilter with an unknown linktype name', () => compileFilter('udp', { linktype: 'NOPE' })],
    ['compileFilter with an unknown option', () => compileFilter('udp', { snap: 1 } as never)],
  ])('%s', (_what, fn) => {
    const error = thrown(fn);
    expect(error).toBeInstanceOf(WirecapError);
    expect(error.code).toBe('EINVAL');
  });

  test('the message names the offending option', () => {
    expect(thrown(() => openLive('lo', { snaplen: 0 })).message).toMatch(/snaplen/);
    expect(thrown(() => openLive('lo', { snaplenn: 1 } as never)).message).toMatch(/unknown openLive option 'snaplenn'/);
  });
});

describe('EFILTER carries libpcap\'s own text', () => {
  test('compileFilter() rejects a malformed expression', () => {
    const error = thrown(() => compileFilter('udp port'));
    expect(error.code).toBe('EFILTER');
    expect(error.message).toMatch(/^invalid filter 'udp port': .*syntax error/);
  });
});

describeLive('typed errors from live captures', () => {
  test('an unknown device gives ENODEV', () => {
    const error = thrown(() => openLive('wirecap-nope0'));
    expect(error).toBeInstanceOf(WirecapError);
    expect(error.code).toBe('ENODEV');
    expect(error.message).toMatch(/no such device: wirecap-nope0/);
  });

  test('an invalid filter at open gives EFILTER', () => {
    expect(thrown(() => openLive('lo', { filter: 'port banana' })).code).toBe('EFILTER');
  });

  test('setFilter() with an invalid filter throws EFILTER and keeps the old filter working', async () => {
    const sink = await udpSink();
    const cap = openLive('lo', { filter: `udp and dst port ${sink.port}`, timeoutMs: 10 });
    expect(thrown(() => cap.setFilter('tcp port')).code).toBe('EFILTER');
    const got = (async () => {
      for await (const p of cap) return p;
    })();
    await sendUdp(sink.port, markedPayloads('still', 1));
    expect((await got)?.caplen).toBeGreaterThan(0);
    sink.close();
  });

  test('inject() of something that is not a buffer gives EINVAL', () => {
    const cap = openLive('lo');
    expect(thrown(() => cap.inject('frame' as never)).code).toBe('EINVAL');
    expect(thrown(() => cap.inject(Buffer.alloc(0))).code).toBe('EINVAL');
    cap.close();
  });

  test('capturing without CAP_NET_RAW gives EPERM with the command that fixes it', async () => {
    const result = await runNode(
      `try { wirecap.openLive('lo'); console.log('opened'); } catch (e) { console.log(JSON.stringify({ code: e.code, name: e.name, message: e.message })); }`,
      { wrapper: ['setpriv', '--bounding-set=-net_raw,-net_admin'] },
    );
    const error = JSON.parse(result.stdout);
    expect(error).toMatchObject({ code: 'EPERM', name: 'WirecapError' });
    expect(error.message).toContain('sudo npx wirecap grant');
    expect(error.message).not.toContain('setcap');
  });
});

describe('ELIBPCAP when no libpcap can be loaded', () => {
  const report = `
    const result = { imported: typeof wirecap.openLive };
    try { wirecap.libVersion(); } catch (e) { Object.assign(result, { code: e.code, message: e.message, isWirecapError: e instanceof wirecap.WirecapError }); }
    console.log(JSON.stringify(result));
  `;

  test('WIRECAP_LIBPCAP naming a missing file: importing works, the first call throws ELIBPCAP', async () => {
    const result = await runNode(report, { env: { WIRECAP_LIBPCAP: '/nonexistent/libpcap.so.1' } });
    expect(JSON.parse(result.stdout)).toMatchObject({ imported: 'function', code: 'ELIBPCAP', isWirecapError: true });
    expect(JSON.parse(result.stdout).message).toMatch(/WIRECAP_LIBPCAP=\/nonexistent\/libpcap.so.1 could not be loaded/);
  });

  test('a library without the libpcap symbols is refused with ELIBPCAP', async () => {
    const result = await runNode(report, { env: { WIRECAP_LIBPCAP: 'libz.so.1' } });
    expect(JSON.parse(result.stdout)).toMatchObject({ code: 'ELIBPCAP' });
    expect(JSON.parse(result.stdout).message).toMatch(/lacks pcap_lib_version/);
  });

  const libpcapFile = '/usr/lib/x86_64-linux-gnu/libpcap.so.1.10.3';
  const canHide = process.getuid?.() === 0 && require('node:fs').existsSync(libpcapFile);
  (canHide ? test : test.skip)('with the system libpcap hidden, the message says how to install it', async () => {
    // A private mount namespace hides the library from this child only.
    const result = await runNode(report, {
      wrapper: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind /dev/null ${libpcapFile} && exec "$@"`, 'sh'],
    });
    const parsed = JSON.parse(result.stdout);
    expect(parsed).toMatchObject({ code: 'ELIBPCAP' });
    expect(parsed.message).toMatch(/libpcap is not installed\. Install it with `apt-get install libpcap0.8`/);
  });
});
