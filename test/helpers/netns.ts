/**
 * Veth pairs into a network namespace the test makes and removes itself:
 * the root ends are captured, the namespace ends own the addresses that
 * test traffic is sent to (and nothing else is).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface VethPair {
  /** The root namespace's end: the device to capture on. */
  device: string;
  /** The namespace end's address, where test traffic goes. */
  peerAddress: string;
}

export interface Netns {
  name: string;
  pairs: VethPair[];
  /** Deletes a pair's root end (and so the pair) while it may be captured. */
  removePair(pair: VethPair): void;
  remove(): void;
}

const run = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });
const quiet = (...args: string[]): void => {
  try {
    run(...args);
  } catch {
    // already gone
  }
};

/**
 * count veth pairs, 10.<200+firstNet+i>.<pid>.1 (root) to .2 (namespace),
 * IPv6 off and ARP settled so nothing else is sent. label tells apart the
 * namespaces one test process makes.
 */
export function makeNetns(count: number, label = 'md', firstNet = 0): Netns {
  const tag = process.pid % 10000;
  const name = `wirecap-${label}-${process.pid}`;
  run('netns', 'add', name);
  const pairs: VethPair[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const device = `w${label}${tag}${String.fromCharCode(97 + i)}`;
      const peer = `${device}p`;
      const net = `10.${200 + firstNet + i}.${tag % 250}`;
      run('link', 'add', device, 'type', 'veth', 'peer', 'name', peer);
      run('link', 'set', peer, 'netns', name);
      execFileSync('sysctl', ['-qw', `net.ipv6.conf.${device}.disable_ipv6=1`]);
      execFileSync('ip', ['netns', 'exec', name, 'sysctl', '-qw', `net.ipv6.conf.${peer}.disable_ipv6=1`]);
      run('addr', 'add', `${net}.1/24`, 'dev', device);
      run('link', 'set', device, 'up');
      run('-n', name, 'addr', 'add', `${net}.2/24`, 'dev', peer);
      run('-n', name, 'link', 'set', peer, 'up');
      // A static neighbour: no ARP on the wire, and no datagram waits for one.
      const mac = /link\/ether ([0-9a-f:]+)/.exec(execFileSync('ip', ['-n', name, 'link', 'show', peer], { encoding: 'utf8' }))![1];
      run('neigh', 'replace', `${net}.2`, 'lladdr', mac, 'dev', device, 'nud', 'permanent');
      pairs.push({ device, peerAddress: `${net}.2` });
    }
    // The kernel brings a new link's carrier up after a delay (link watch, up to a second);
    // until then the veth drops what is sent. Wait for it, bounded.
    const deadline = Date.now() + 5000;
    while (pairs.some((p) => fs.readFileSync(`/sys/class/net/${p.device}/operstate`, 'utf8').trim() !== 'up')) {
      if (Date.now() > deadline) throw new Error('the veth pairs did not come up within 5 s');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  } catch (error) {
    pairs.forEach((p) => quiet('link', 'del', p.device));
    quiet('netns', 'del', name);
    throw error;
  }
  return {
    name,
    pairs,
    removePair: (pair) => run('link', 'del', pair.device),
    remove() {
      pairs.forEach((p) => quiet('link', 'del', p.device));
      quiet('netns', 'del', name);
    },
  };
}
