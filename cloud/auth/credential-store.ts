import type { MqttPrincipal } from './acl.js';
import type { Role } from './auth.js';

/** An HTTP API token as stored (the secret itself is never stored, only its hash). */
export interface TokenRecord {
  id: string;
  name: string;
  roles: Role[];
  /** Sites the token may see; undefined = all. */
  sites?: string[];
  createdAt: string;
  revokedAt?: string;
}

/** An MQTT user as stored (password hashed with scrypt). */
export type MqttUserRecord = MqttPrincipal & { createdAt: string; rotatedAt?: string };

export type NewMqttUser = { role: 'edge'; site: string; edge: string } | { role: 'alerts'; site: string };

/** A credential error with a stable code (`SG_ERR_CONFLICT`, `SG_ERR_ALREADY_INITIALISED`). */
export class CredentialError extends Error {
  constructor(
    readonly code: 'SG_ERR_CONFLICT' | 'SG_ERR_ALREADY_INITIALISED',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Credentials of the cloud: HTTP API tokens and MQTT users, hashed at rest, in the cloud's one
 * database (`sqlite.ts`, `postgres.ts`; contract: tests/contracts/credential-store.contract.ts). Every check reads the store, so a token or
 * user issued or revoked by another process (`stockgate admin init`) takes effect at once.
 */
export interface CredentialStore {
  /** Issue a token; the clear text is returned once and never stored. */
  issueToken(o: { name: string; roles: Role[]; sites?: string[] }): Promise<{ token: string; record: TokenRecord }>;
  /** The record of a presented token, or undefined when unknown, malformed or revoked. */
  verifyToken(token: string): Promise<TokenRecord | undefined>;
  /** Revoke a token; false when no active token has that id. */
  revokeToken(id: string): Promise<boolean>;
  listTokens(): Promise<TokenRecord[]>;
  /**
   * The first admin token of a data dir (`stockgate admin init`). Refuses with
   * `SG_ERR_ALREADY_INITIALISED` when it was issued before, unless `rotate`: then the previous
   * init token is revoked and a new one issued.
   */
  initAdmin(o?: { rotate?: boolean }): Promise<{ token: string; record: TokenRecord }>;
  /** Whether any active token has the admin role. */
  hasAdminToken(): Promise<boolean>;

  /** Create MQTT credentials with a generated password. An edge has one user: `SG_ERR_CONFLICT` if it exists. */
  createMqttUser(o: NewMqttUser): Promise<{ username: string; password: string; record: MqttUserRecord }>;
  /** The user when the password matches (timing-safe; the same work for unknown users). */
  verifyMqttUser(username: string, password: string): Promise<MqttUserRecord | undefined>;
  /** New password; the old one stops working. Undefined when the user does not exist. */
  rotateMqttUser(username: string): Promise<{ username: string; password: string } | undefined>;
  /** Delete the user; false when it did not exist. */
  revokeMqttUser(username: string): Promise<boolean>;
  listMqttUsers(): Promise<MqttUserRecord[]>;
  getMqttUser(username: string): Promise<MqttUserRecord | undefined>;
  /**
   * The user's ack key (`deriveAckKey(password)`, protocols/mqtt/ack-signature.ts): stored when
   * the credential is created or rotated, or (credentials of an earlier release) learnt from the
   * password at an embedded-broker CONNECT. Undefined when the user is unknown or has none yet.
   */
  getAckKey(username: string): Promise<Buffer | undefined>;
  /**
   * Store the ack key derived from a password just verified (embedded broker CONNECT), only when
   * the user has none (a credential of an earlier release): a create or rotation always stores the
   * key of the current password, so it is never overwritten here. True if stored.
   */
  learnAckKey(username: string, key: Buffer): Promise<boolean>;

  close(): Promise<void>;
}
