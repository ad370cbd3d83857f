/** What `wirecap publish` and `wirecap consume` share: how they reach NATS. */
import { Command } from 'commander';
import { NatsConnectOptions } from '../nats/connection';

/** Adds the connection options to a command. */
export function natsOptions(command: Command): Command {
  return command
    .requiredOption('--nats <urls>', 'NATS server URL(s), comma-separated, e.g. nats://127.0.0.1:4222')
    .option('--creds <file>', 'credentials file (JWT and NKey seed)')
    .option('--token <token>', 'authentication token')
    .option('--user <user>', 'user name (with --pass)')
    .option('--pass <pass>', 'password')
    .option('--tls', "TLS with the system's CA roots")
    .option('--tls-ca <file>', 'PEM file of the CA that signed the servers (implies --tls)')
    .option('--tls-cert <file>', 'PEM client certificate (with --tls-key)')
    .option('--tls-key <file>', 'PEM client key');
}

export interface NatsFlags {
  nats: string;
  creds?: string;
  token?: string;
  user?: string;
  pass?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export function connectOptions(o: NatsFlags): NatsConnectOptions {
  const files = { ...(o.tlsCa ? { ca: o.tlsCa } : {}), ...(o.tlsCert ? { cert: o.tlsCert } : {}), ...(o.tlsKey ? { key: o.tlsKey } : {}) };
  return {
    servers: o.nats.split(','),
    ...(Object.keys(files).length > 0 ? { tls: files } : o.tls ? { tls: true } : {}),
    ...(o.creds ? { creds: o.creds } : {}),
    ...(o.token ? { token: o.token } : {}),
    ...(o.user ? { user: o.user } : {}),
    ...(o.pass ? { pass: o.pass } : {}),
  };
}
