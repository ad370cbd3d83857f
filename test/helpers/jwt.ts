/**
 * NATS decentralized auth for the tests: an operator, an account with
 * JetStream and its users, as JWTs (header.claims.signature, base64url, the
 * signature an ed25519 nkey's over the first two parts) signed with the
 * nkeys the `nats` client ships, and the server config that trusts them.
 */
import { randomBytes } from 'node:crypto';
import { nkeys } from 'nats';

type KeyPair = ReturnType<typeof nkeys.createOperator>;

function jwt(issuer: KeyPair, subject: string, nats: object): string {
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ typ: 'JWT', alg: 'ed25519-nkey' })}.${part({ jti: randomBytes(16).toString('hex'), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), sub: subject, name: subject.slice(0, 8), nats })}`;
  return `${head}.${Buffer.from(issuer.sign(Buffer.from(head))).toString('base64url')}`;
}

export interface Operator {
  /** Server config lines: the operator, and a memory resolver preloaded with the account and a system account. */
  config: string[];
  /** A .creds file's text for a new user of the account, or of another account the operator never signed. */
  creds(options?: { untrusted?: boolean }): string;
}

export function operator(): Operator {
  const op = nkeys.createOperator();
  const account = nkeys.createAccount();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const accountJwt = jwt(op, account.getPublicKey(), { limits: unlimited, default_permissions: { pub: {}, sub: {} }, type: 'account', version: 2 });
  // JetStream in operator mode wants a system account for its internal subscriptions.
  const system = nkeys.createAccount();
  const systemJwt = jwt(op, system.getPublicKey(), { limits: { ...unlimited, mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 }, type: 'account', version: 2 });
  return {
    config: [
      `operator: "${jwt(op, op.getPublicKey(), { type: 'operator', version: 2, system_account: system.getPublicKey() })}"`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      `resolver_preload: { ${account.getPublicKey()}: "${accountJwt}", ${system.getPublicKey()}: "${systemJwt}" }`,
    ],
    creds(options = {}) {
      const user = nkeys.createUser();
      const signer = options.untrusted === true ? nkeys.createAccount() : account;
      const userJwt = jwt(signer, user.getPublicKey(), { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: 'user', version: 2 });
      const seed = Buffer.from(user.getSeed()).toString();
      return `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
    },
  };
}
