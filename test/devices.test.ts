import { execFileSync } from 'node:child_process';
import { compileFilter, devices, libVersion, linktypeValue } from '../lib';
import { runNode } from './helpers/traffic';

describe('devices()', () => {
  test('lists lo as an up loopback device with 127.0.0.1/255.0.0.0', () => {
    const lo = devices().find((d) => d.name === 'lo');
    expect(lo).toBeDefined();
    expect(lo!.flags).toMatchObject({ loopback: true, up: true, running: true, wireless: false });
    expect(lo!.addresses).toContainEqual(
      expect.objectContaining({ family: 'IPv4', address: '127.0.0.1', netmask: '255.0.0.0' }),
    );
  });

  test('lists the same device names as tcpdump -D', () => {
    const tcpdump = execFileSync('tcpdump', ['-D'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.replace(/^\d+\.(\S+).*$/, '$1'));
    expect(devices().map((d) => d.name)).toEqual(tcpdump);
  });
});

describe('libVersion()', () => {
  test('returns pcap_lib_version() of the loaded library', () => {
    const tcpdumpVersion = execFileSync('tcpdump', ['--version'], { encoding: 'utf8' });
    expect(tcpdumpVersion).toContain(libVersion());
    expect(libVersion()).toMatch(/^libpcap version \d+\.\d+/);
  });
});

describe('compileFilter()', () => {
  test.each([
    ['udp port 53', 'EN10MB'],
    ['tcp[tcpflags] & tcp-syn != 0 and not host 10.0.0.1', 'EN10MB'],
    ['ip6 and icmp6', 'RAW'],
    ['vlan 100 and udp', 'EN10MB'],
  ])('prints %s for %s exactly as tcpdump -d does', (expr, linktype) => {
    const tcpdump = execFileSync('tcpdump', ['-d', '-y', linktype, expr], { encoding: 'utf8' }).trimEnd().split('\n');
    expect(compileFilter(expr, { linktype })).toEqual(tcpdump);
  });

  test('takes the snaplen into account in the accept instruction', () => {
    expect(compileFilter('udp', { snaplen: 96 }).at(-2)).toMatch(/ret\s+#96$/);
  });

  test('accepts a linktype as a number or a libpcap name', () => {
    expect(linktypeValue('EN10MB')).toBe(1);
    expect(linktypeValue(101)).toBe(101);
    expect(compileFilter('ip', { linktype: 12 })).toEqual(compileFilter('ip', { linktype: 'RAW' }));
  });
});

describe('package entry points', () => {
  test('the ES module entry exports the same names as the CommonJS one', async () => {
    const result = await runNode(
      `import(require('node:path').join(process.cwd(), 'dist/index.mjs')).then((esm) => {
        const names = (o) => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort();
        console.log(JSON.stringify([names(esm), names(wirecap)]));
      });`,
    );
    const [esm, cjs] = JSON.parse(result.stdout);
    expect(esm).toEqual(cjs);
    expect(esm).toEqual(expect.arrayContaining(['openLive', 'devices', 'compileFilter', 'libVersion', 'WirecapError']));
  });
});
