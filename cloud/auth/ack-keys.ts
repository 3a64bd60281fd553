import type { Logger } from 'pino';
import { deriveAckKey } from '../../protocols/mqtt/index.js';
import { edgeUsername } from './acl.js';
import type { CredentialStore } from './credential-store.js';

/** How long a looked-up key is trusted before the store is asked again (a rotation by another process). */
const TTL_MS = 5_000;

/**
 * The per-edge ack keys the ingester signs acks and rejects with (issue 8, finding 6;
 * protocols/mqtt/ack-signature.ts).
 *
 * - `--insecure`: one key for every edge, from `--ack-key` (the canonical content names site and
 *   edge, so an ack for one edge is no ack for another); without `--ack-key` acks go unsigned.
 * - Authentication on: the edge user's key from the credential store (stored at create/rotate,
 *   learnt at an embedded-broker CONNECT for credentials of an earlier release), cached for 5 s.
 *   An edge without a stored key gets unsigned acks, which it drops: that is logged once per edge
 *   with the way out (rotate the credential, or connect once through the embedded broker).
 */
export class AckKeyring {
  private readonly cache = new Map<string, { key: Buffer | undefined; until: number; pending?: Promise<Buffer | undefined> }>();
  private readonly warned = new Set<string>();

  private constructor(
    private readonly log: Logger,
    private readonly store: CredentialStore | undefined,
    private readonly shared: Buffer | undefined,
  ) {}

  /** `--insecure`: the same key for all edges, or none. */
  static insecure(log: Logger, ackKey?: string): AckKeyring {
    return new AckKeyring(log, undefined, ackKey === undefined ? undefined : deriveAckKey(ackKey));
  }

  /** Authentication on: keys of the edges' MQTT users. */
  static fromStore(log: Logger, store: CredentialStore): AckKeyring {
    return new AckKeyring(log, store, undefined);
  }

  /** The key to sign acks for (site, edge) with; undefined = publish unsigned. Never throws. */
  async key(site: string, edge: string): Promise<Buffer | undefined> {
    if (!this.store) return this.shared;
    const username = edgeUsername(site, edge);
    const now = Date.now();
    const hit = this.cache.get(username);
    if (hit?.pending) return hit.pending;
    if (hit && hit.until > now) return hit.key;
    const pending = this.store.getAckKey(username).then(
      (key) => {
        this.cache.set(username, { key, until: Date.now() + TTL_MS });
        if (!key && !this.warned.has(username)) {
          this.warned.add(username);
          this.log.warn(
            { code: 'SG_ERR_ACK_KEY_MISSING', site, edge, username },
            'no ack key stored for this edge (a credential of an earlier release, or no credential): its acks go unsigned and the edge drops them, keeping its outbox. Rotate the credential (POST /api/v1/edges/:site/:edgeId/rotate) or let it connect once through the embedded broker',
          );
        }
        return key;
      },
      (err: Error) => {
        this.cache.delete(username);
        this.log.error({ site, edge, err: err.message }, 'ack key lookup failed: ack sent unsigned');
        return undefined;
      },
    );
    this.cache.set(username, { key: hit?.key, until: 0, pending });
    return pending;
  }

  /** An edge user proved its password (embedded broker CONNECT): its key, learnt and stored if missing. */
  learn(username: string, password: string): void {
    if (!this.store) return;
    const key = deriveAckKey(password);
    this.cache.set(username, { key, until: Date.now() + TTL_MS });
    this.warned.delete(username);
    this.store.learnAckKey(username, key).then(
      (stored) => stored && this.log.info({ username }, 'ack key learnt at CONNECT for a credential of an earlier release'),
      (err: Error) => this.log.error({ username, err: err.message }, 'storing the ack key failed'),
    );
  }
}
