/**
 * Connecting to NATS for publishPackets() and consumePackets(): the options
 * both take, passed on to the official `nats` client, and the first
 * connection retried up to a documented limit.
 */
import fs from 'node:fs';
import type * as Nats from 'nats';
import { WirecapError } from '../core/errors';
import { checkInteger, checkKeys, checkObject, checkString } from '../core/validate';

/** The `nats` client, loaded on first use (as @grpc/grpc-js is): other wirecap users do not pay for it. */
export function natsJs(): typeof Nats {
  return require('nats') as typeof Nats;
}

export interface NatsConnectOptions {
  /** 'nats://host:port' or several (the client moves between them). */
  servers: string | string[];
  /** TLS: PEM files of the CA, and of a client certificate and key when the server asks for one. true: TLS with the system's roots. */
  tls?: boolean | { ca?: string; cert?: string; key?: string };
  /** A credentials file (JWT and NKey seed), as `nats` and nsc write them. */
  creds?: string;
  token?: string;
  user?: string;
  pass?: string;
  /** The connection's name, shown by the server's monitoring. */
  name?: string;
  /** How long to keep trying the first connection before ECONNREFUSED (default 10000 ms). */
  connectTimeoutMs?: number;
  /** After a connection was lost: how long without a working server before the run fails with ECONNREFUSED (default 60000 ms). */
  outageLimitMs?: number;
}

export const CONNECT_KEYS = ['servers', 'tls', 'creds', 'token', 'user', 'pass', 'name', 'connectTimeoutMs', 'outageLimitMs'] as const;

export interface CheckedConnect {
  client: Nats.ConnectionOptions;
  connectTimeoutMs: number;
  outageLimitMs: number;
  label: string;
}

export function checkConnect(o: Record<string, unknown>): CheckedConnect {
  const servers = Array.isArray(o.servers) ? o.servers.map((s, i) => checkString(s, `servers[${i}]`)) : [checkString(o.servers, 'servers')];
  if (servers.length === 0) throw new WirecapError('servers must name at least one server', 'EINVAL');
  const client: Nats.ConnectionOptions = {
    servers,
    maxReconnectAttempts: -1, // outageLimitMs decides when to give up
    reconnectTimeWait: 250,
    pingInterval: 5000,
  };
  if (o.tls === true) client.tls = {};
  else if (o.tls !== undefined && o.tls !== false) {
    const t = checkObject(o.tls, 'tls');
    checkKeys(t, ['ca', 'cert', 'key'], 'tls');
    client.tls = {
      ...(t.ca === undefined ? {} : { caFile: checkString(t.ca, 'tls.ca') }),
      ...(t.cert === undefined ? {} : { certFile: checkString(t.cert, 'tls.cert') }),
      ...(t.key === undefined ? {} : { keyFile: checkString(t.key, 'tls.key') }),
    };
  }
  if (o.creds !== undefined) {
    const file = checkString(o.creds, 'creds');
    client.authenticator = natsJs().credsAuthenticator(readFile(file));
  }
  if (o.token !== undefined) client.token = checkString(o.token, 'token');
  if (o.user !== undefined) client.user = checkString(o.user, 'user');
  if (o.pass !== undefined) client.pass = checkString(o.pass, 'pass');
  if (o.name !== undefined) client.name = checkString(o.name, 'name');
  return {
    client,
    connectTimeoutMs: o.connectTimeoutMs === undefined ? 10000 : checkInteger(o.connectTimeoutMs, 'connectTimeoutMs', 1, 2 ** 31),
    outageLimitMs: o.outageLimitMs === undefined ? 60000 : checkInteger(o.outageLimitMs, 'outageLimitMs', 1, 2 ** 31),
    label: servers.join(','),
  };
}

function readFile(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ENOENT' : 'EACCES';
    throw new WirecapError(`cannot read ${file}: ${(error as Error).message}`, code);
  }
}

/** Connects, trying again every 250 ms while no server answers, for up to connectTimeoutMs; then ECONNREFUSED. */
export async function connect(c: CheckedConnect): Promise<Nats.NatsConnection> {
  const nats = natsJs();
  const until = Date.now() + c.connectTimeoutMs;
  for (;;) {
    try {
      return await nats.connect({ ...c.client, timeout: Math.max(1, Math.min(2000, until - Date.now())) });
    } catch (error) {
      const e = error as Nats.NatsError;
      if (e.code === nats.ErrorCode.AuthorizationViolation || e.code === nats.ErrorCode.BadAuthentication) {
        throw new WirecapError(`${c.label} refused the credentials: ${e.message}`, 'EACCES');
      }
      if (Date.now() >= until) throw new WirecapError(`no NATS server answered at ${c.label} within ${c.connectTimeoutMs} ms: ${e.message}`, 'ECONNREFUSED');
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, until - Date.now())));
    }
  }
}

/**
 * Runs a JetStream API call again while it fails for want of a leader or an
 * answer (a cluster electing one), for up to outageLimitMs: then
 * ECONNREFUSED. A WirecapError (ENOENT...) is the answer and goes through.
 */
export async function retrying<T>(c: CheckedConnect, what: string, fn: () => Promise<T>): Promise<T> {
  const until = Date.now() + c.outageLimitMs;
  for (let backoff = 100; ; backoff = Math.min(backoff * 2, 1000)) {
    try {
      return await fn();
    } catch (error) {
      const e = jsError(error, what);
      if (e instanceof WirecapError && e.code !== 'ECONNREFUSED') throw e;
      if (Date.now() >= until) throw new WirecapError(`${what}: no answer from JetStream at ${c.label} for ${c.outageLimitMs} ms: ${e.message}`, 'ECONNREFUSED');
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}

/** EACCES / ENOENT from the JetStream API's answers, else the error as it came. */
export function jsError(error: unknown, what: string): Error {
  const e = error as Nats.NatsError;
  const api = e?.api_error;
  if (api?.err_code === 10059) return new WirecapError(`${what}: stream not found`, 'ENOENT');
  if (api?.err_code === 10014) return new WirecapError(`${what}: consumer not found`, 'ENOENT');
  if (e?.code === '503') return new WirecapError(`${what}: JetStream is not available (${e.message})`, 'ECONNREFUSED');
  return error instanceof Error ? error : new Error(String(error));
}
