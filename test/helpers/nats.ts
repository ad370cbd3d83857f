/**
 * Real nats-server processes for the tests: one node or a 3-node JetStream
 * cluster on 127.0.0.1, ports of their own, store dirs in a temp dir that
 * stop() removes.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, NatsConnection, RetentionPolicy, StorageType } from 'nats';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`nats-server did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class NatsNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly config: string;
  #proc: ChildProcess | null = null;

  constructor(name: string, port: number, config: string) {
    this.name = name;
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.config = config;
  }

  async start(): Promise<void> {
    this.#proc = spawn('nats-server', ['-c', this.config], { stdio: 'ignore' });
    await waitForPort(this.port, 10000);
  }

  /** SIGKILL: the node dies without a word to its peers. */
  async kill(): Promise<void> {
    const p = this.#proc;
    this.#proc = null;
    if (p === null || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}

export interface NatsCluster {
  nodes: NatsNode[];
  urls: string[];
  dir: string;
  stop(): Promise<void>;
}

/** Starts n nodes (1, or a cluster of 3) with JetStream; maxPayload in bytes, and config lines of its own, if given. */
export async function startNats(n: 1 | 3, options: { maxPayload?: number; config?: string[] } = {}): Promise<NatsCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-nats-'));
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const routes = await Promise.all(Array.from({ length: n }, () => freePort()));
  const nodes = ports.map((port, i) => {
    const name = `n${i + 1}`;
    const lines = [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: "${path.join(dir, name)}", max_memory_store: 67108864, max_file_store: 2147483648 }`,
      ...(options.maxPayload ? [`max_payload: ${options.maxPayload}`] : []),
      ...(options.config ?? []),
    ];
    if (n > 1) {
      const peers = routes.filter((_, j) => j !== i).map((p) => `"nats-route://127.0.0.1:${p}"`);
      lines.push(`cluster { name: wirecap, listen: 127.0.0.1:${routes[i]}, routes: [${peers.join(', ')}] }`);
    }
    const config = path.join(dir, `${name}.conf`);
    fs.writeFileSync(config, `${lines.join('\n')}\n`);
    return new NatsNode(name, port, config);
  });
  await Promise.all(nodes.map((node) => node.start()));
  return {
    nodes,
    urls: nodes.map((node) => node.url),
    dir,
    async stop() {
      await Promise.all(nodes.map((node) => node.kill()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs fn with a connection, retried while the cluster elects its JetStream leaders. */
export async function withJetStream<T>(urls: string[], fn: (nc: NatsConnection) => Promise<T>, ms = 20000): Promise<T> {
  const nc = await connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const until = Date.now() + ms;
  try {
    for (;;) {
      try {
        return await fn(nc);
      } catch (error) {
        if (Date.now() > until) throw error;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}

/** Creates a file-backed stream (limits retention) with a 2-minute de-duplication window. */
export async function createStream(urls: string[], name: string, subjects: string[], replicas = 1): Promise<void> {
  await withJetStream(urls, async (nc) => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name, subjects, num_replicas: replicas, storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: 120e9 });
    // A cluster may answer before the stream has a leader: wait for its info to work.
    await jsm.streams.info(name);
  });
}
