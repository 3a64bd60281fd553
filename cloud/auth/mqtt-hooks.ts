import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import { authorizePublish, authorizeSubscribe, type MqttPrincipal } from './acl.js';
import type { CredentialStore } from './credential-store.js';
import { DEFAULT_LIMITS, type MqttLimits, TokenBucket } from './limits.js';

/** CONNACK return codes of MQTT 3.1.1 used here. */
export const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_USERNAME_OR_PASSWORD: 4, NOT_AUTHORIZED: 5 } as const;

export type MqttHooks = Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>;

function refuse(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Authentication, topic ACL and admission limits of the embedded aedes broker, as aedes hooks:
 *
 * - `authenticate`: username + password against the credential store (scrypt). No username:
 *   CONNACK 5; unknown user or wrong password: CONNACK 4. More than `maxConnPerUser` live
 *   connections of one user: CONNACK 3. A client id held by a live client of another user:
 *   CONNACK 2 (otherwise one edge could kick another off by reusing its client id, [MQTT-3.1.4-2]).
 * - `authorizePublish`: the ACL (`acl.ts`) and a token bucket per connection. A denied publish
 *   or a client over its rate is disconnected (aedes closes the connection on a hook error) and
 *   logged. The client's own will is ACL-checked but not rate-limited.
 * - `authorizeSubscribe`: the ACL; a denied filter gets SUBACK 0x80.
 *
 * The cloud's in-process `aedes.publish`/`aedes.subscribe` (acks, rejects, ingestion) do not pass
 * through these hooks.
 */
export class MqttAuth {
  readonly limits: MqttLimits;
  private readonly principals = new WeakMap<Client, MqttPrincipal>();
  private readonly buckets = new WeakMap<Client, TokenBucket>();
  private readonly byUser = new Map<string, Set<Client>>();
  private readonly byClientId = new Map<string, { client: Client; username: string }>();

  constructor(
    private readonly store: CredentialStore,
    private readonly log: Logger,
    limits: Partial<MqttLimits> = {},
    /**
     * Called with the password of every admitted user: the ack keyring derives the edge's ack key
     * from it (and stores it for credentials issued before keys were stored).
     */
    private readonly onAdmitted?: (p: MqttPrincipal, password: string) => void,
    /** The project an alerts reader is limited to (issue 10 §5), read at CONNECT; undefined = the whole site. */
    private readonly projectOf?: (username: string) => Promise<string | undefined>,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    if (limits.publishRate !== undefined && limits.publishBurst === undefined) this.limits.publishBurst = 2 * limits.publishRate;
  }

  /** Live connections of a user (for tests and logs). */
  connections(username: string): number {
    return [...(this.byUser.get(username) ?? [])].filter((c) => !c.closed).length;
  }

  /** Close every live connection of `username` (after a revocation or rotation). Returns how many. */
  disconnect(username: string): number {
    const clients = [...(this.byUser.get(username) ?? [])].filter((c) => !c.closed);
    for (const c of clients) c.close();
    if (clients.length) this.log.info({ username, connections: clients.length }, 'mqtt credentials changed: live connections closed');
    return clients.length;
  }

  readonly hooks: MqttHooks = {
    authenticate: (client, username, password, done) => {
      if (!username) {
        this.log.warn({ clientId: client.id }, 'mqtt connect refused: no username (anonymous connects are off)');
        return done(refuse(CONNACK.NOT_AUTHORIZED, 'not authorized'), false);
      }
      const clear = password ? password.toString('utf8') : '';
      this.store
        .verifyMqttUser(username, clear)
        .then((p) => {
          if (!p) {
            this.log.warn({ clientId: client.id, username }, 'mqtt connect refused: bad username or password');
            return done(refuse(CONNACK.BAD_USERNAME_OR_PASSWORD, 'bad user name or password'), false);
          }
          const holder = this.byClientId.get(client.id);
          if (holder && holder.username !== username && !holder.client.closed) {
            this.log.warn({ clientId: client.id, username, holder: holder.username }, 'mqtt connect refused: client id in use by another user');
            return done(refuse(CONNACK.IDENTIFIER_REJECTED, 'identifier rejected'), false);
          }
          const live = this.connections(username);
          if (live >= this.limits.maxConnPerUser) {
            this.log.warn({ clientId: client.id, username, live, max: this.limits.maxConnPerUser }, 'mqtt connect refused: too many connections for this user');
            return done(refuse(CONNACK.SERVER_UNAVAILABLE, `more than ${this.limits.maxConnPerUser} connections`), false);
          }
          // An alerts reader of one project is narrowed to that project's topics (cloud/access/).
          return (p.role === 'alerts' && this.projectOf ? this.projectOf(p.username) : Promise.resolve(undefined)).then((project) => {
            const who: MqttPrincipal = project === undefined || p.role !== 'alerts' ? p : { ...p, project };
            this.admit(client, who);
            this.onAdmitted?.(who, clear);
            done(null, true);
          });
        })
        .catch((err: Error) => {
          this.log.error({ clientId: client.id, username, err: err.message }, 'mqtt authentication failed');
          done(refuse(CONNACK.SERVER_UNAVAILABLE, 'server unavailable'), false);
        });
    },

    authorizePublish: (client, packet, done) => {
      const p = client ? this.principals.get(client) : undefined;
      if (!client || !p) return done(new Error('not authenticated'));
      const isWill = packet === (client as Client & { will?: unknown }).will;
      if (!isWill) {
        let bucket = this.buckets.get(client);
        if (!bucket) this.buckets.set(client, (bucket = new TokenBucket(this.limits.publishRate, this.limits.publishBurst)));
        if (!bucket.take()) {
          this.log.warn({ clientId: client.id, username: p.username, rate: this.limits.publishRate, burst: this.limits.publishBurst }, 'mqtt publish rate exceeded: client disconnected');
          return done(new Error('publish rate exceeded'));
        }
      }
      const d = authorizePublish(p, packet.topic, packet.retain);
      if (d.ok) return done(null);
      this.log.warn({ clientId: client.id, username: p.username, topic: packet.topic, will: isWill, reason: d.reason }, 'mqtt publish denied: client disconnected');
      done(new Error(`publish denied: ${d.reason}`));
    },

    authorizeSubscribe: (client, sub, done) => {
      const p = this.principals.get(client);
      const d: ReturnType<typeof authorizeSubscribe> = p ? authorizeSubscribe(p, sub.topic) : { ok: false, reason: 'not authenticated' };
      if (d.ok) return done(null, sub);
      this.log.warn({ clientId: client.id, username: p?.username, filter: sub.topic, reason: d.reason }, 'mqtt subscribe denied');
      done(null, null);
    },
  };

  private admit(client: Client, p: MqttPrincipal): void {
    this.principals.set(client, p);
    let set = this.byUser.get(p.username);
    if (!set) this.byUser.set(p.username, (set = new Set()));
    set.add(client);
    this.byClientId.set(client.id, { client, username: p.username });
    client.conn.once('close', () => {
      set.delete(client);
      if (set.size === 0 && this.byUser.get(p.username) === set) this.byUser.delete(p.username);
      if (this.byClientId.get(client.id)?.client === client) this.byClientId.delete(client.id);
    });
  }
}
