import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { deriveAckKey } from '../../protocols/mqtt/index.js';
import { type SqliteDb, SqliteDatabase } from '../db/index.js';
import type { SqliteMigration } from '../sqlite-db.js';
import { alertsUsername, edgeUsername } from './acl.js';
import type { Role } from './auth.js';
import { type CredentialStore, CredentialError, type MqttUserRecord, type NewMqttUser, type TokenRecord } from './credential-store.js';
import { authModule } from './module.js';
import { digestEquals, formatToken, hashPassword, parseToken, randomId, randomSecret, sha256, verifyNothing, verifyPassword } from './secrets.js';

/**
 * The credential store's file of stockgate 0.1 in a data dir. Since 0.2 the credentials live in
 * the one database (`cloud/db/`), which imports this file on upgrade; tests still open a store
 * on a file of its own here.
 */
export function authDbPath(dataDir: string): string {
  return join(dataDir, 'auth.db');
}

/** Append only: a released migration never changes. */
export const authSqliteMigrations: SqliteMigration[] = [
  {
    version: 1,
    name: 'tokens, mqtt users',
    sql: `
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        roles TEXT NOT NULL,          -- JSON array of roles
        sites TEXT,                   -- JSON array of sites; NULL = all
        secret_sha256 TEXT NOT NULL,  -- hex SHA-256 of the secret part; the token itself is never stored
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        init INTEGER NOT NULL DEFAULT 0  -- 1 = issued by 'stockgate admin init'
      );
      CREATE TABLE mqtt_users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('edge', 'alerts')),
        site TEXT NOT NULL,
        edge TEXT,
        password_hash TEXT NOT NULL,  -- scrypt$N$r$p$salt$hash
        created_at TEXT NOT NULL,
        rotated_at TEXT
      );
    `,
  },
  {
    version: 2,
    name: 'mqtt users: ack key (issue 8, signed acks)',
    // HMAC(password, "stockgate/ack") as hex; NULL for credentials of an earlier release until the
    // edge connects once through the embedded broker or the credential is rotated.
    sql: 'ALTER TABLE mqtt_users ADD COLUMN ack_key TEXT;',
  },
];

export interface TokenRow {
  id: string;
  name: string;
  roles: string;
  sites: string | null;
  secret_sha256: string;
  created_at: string;
  revoked_at: string | null;
}

export interface UserRow {
  username: string;
  role: 'edge' | 'alerts';
  site: string;
  edge: string | null;
  password_hash: string;
  created_at: string;
  rotated_at: string | null;
}

export function toToken(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    roles: JSON.parse(r.roles) as Role[],
    ...(r.sites === null ? {} : { sites: JSON.parse(r.sites) as string[] }),
    createdAt: r.created_at,
    ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at }),
  };
}

export function toUser(r: UserRow): MqttUserRecord {
  const base = { username: r.username, site: r.site, createdAt: r.created_at, ...(r.rotated_at === null ? {} : { rotatedAt: r.rotated_at }) };
  return r.role === 'edge' ? { role: 'edge', edge: r.edge ?? '', ...base } : { role: 'alerts', ...base };
}

/**
 * Credentials in the cloud's one SQLite database (mode 0600, WAL, so `stockgate admin init` can
 * write while the cloud runs). Lookups are by primary key; the cost of a check is the hash. Writes
 * wait for the shared connection to be free of Kysely transactions (`SqliteDb.idle`).
 */
export class SqliteCredentialStore implements CredentialStore {
  private readonly db: Database.Database;
  /** The database this store opened itself (closed with it); undefined on a shared one. */
  private readonly own: SqliteDatabase | undefined;
  private readonly database: SqliteDb;

  /** On the cloud's one database, or on a file of its own (tests; made mode 0600). Applies the `auth` module's migrations. */
  constructor(target: string | SqliteDb) {
    this.own = typeof target === 'string' ? new SqliteDatabase(target) : undefined;
    this.database = this.own ?? (target as SqliteDb);
    this.database.migrateSync(authModule);
    this.db = this.database.handle;
    try {
      chmodSync(this.database.path, 0o600);
    } catch {
      /* not the owner: leave the mode as it is */
    }
  }

  /** Resolves when a write may run on the shared connection (write right after, in the same tick). */
  private free(): Promise<void> | undefined {
    return this.database.idle();
  }

  private insertToken(o: { name: string; roles: Role[]; sites?: string[]; init?: boolean }): { token: string; record: TokenRecord } {
    const id = randomId();
    const secret = randomSecret();
    const createdAt = new Date().toISOString();
    this.db
      .prepare('INSERT INTO tokens (id, name, roles, sites, secret_sha256, created_at, init) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, o.name, JSON.stringify(o.roles), o.sites ? JSON.stringify(o.sites) : null, sha256(secret), createdAt, o.init ? 1 : 0);
    return { token: formatToken(id, secret), record: { id, name: o.name, roles: [...o.roles], ...(o.sites ? { sites: [...o.sites] } : {}), createdAt } };
  }

  async issueToken(o: { name: string; roles: Role[]; sites?: string[] }): Promise<{ token: string; record: TokenRecord }> {
    for (let w = this.free(); w; w = this.free()) await w;
    return this.insertToken(o);
  }

  async verifyToken(token: string): Promise<TokenRecord | undefined> {
    const t = parseToken(token);
    if (!t) return undefined;
    const row = this.db.prepare('SELECT * FROM tokens WHERE id = ? AND revoked_at IS NULL').get(t.id) as TokenRow | undefined;
    if (!row || !digestEquals(sha256(t.secret), row.secret_sha256)) return undefined;
    return toToken(row);
  }

  async revokeToken(id: string): Promise<boolean> {
    for (let w = this.free(); w; w = this.free()) await w;
    return this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), id).changes > 0;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY created_at, id').all() as TokenRow[]).map(toToken);
  }

  async initAdmin(o: { rotate?: boolean } = {}): Promise<{ token: string; record: TokenRecord }> {
    for (let w = this.free(); w; w = this.free()) await w;
    return this.db
      .transaction(() => {
        const prev = this.db.prepare('SELECT created_at FROM tokens WHERE init = 1 ORDER BY created_at DESC LIMIT 1').pluck().get() as string | undefined;
        if (prev !== undefined && !o.rotate) {
          throw new CredentialError(
            'SG_ERR_ALREADY_INITIALISED',
            `an admin token was already created for this data dir (${prev}); to replace it run 'stockgate admin init --rotate' (the old admin token stops working)`,
          );
        }
        this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE init = 1 AND revoked_at IS NULL').run(new Date().toISOString());
        return this.insertToken({ name: 'admin (stockgate admin init)', roles: ['admin'], init: true });
      })
      .immediate();
  }

  async hasAdminToken(): Promise<boolean> {
    const rows = this.db.prepare('SELECT roles FROM tokens WHERE revoked_at IS NULL').pluck().all() as string[];
    return rows.some((r) => (JSON.parse(r) as string[]).includes('admin'));
  }

  async createMqttUser(o: NewMqttUser): Promise<{ username: string; password: string; record: MqttUserRecord }> {
    const username = o.role === 'edge' ? edgeUsername(o.site, o.edge) : alertsUsername(o.site, randomId().slice(0, 8));
    if (this.db.prepare('SELECT 1 FROM mqtt_users WHERE username = ?').get(username)) throw conflict(username);
    const password = randomSecret();
    const hash = await hashPassword(password);
    const createdAt = new Date().toISOString();
    for (let w = this.free(); w; w = this.free()) await w;
    try {
      this.db
        .prepare('INSERT INTO mqtt_users (username, role, site, edge, password_hash, created_at, ack_key) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(username, o.role, o.site, o.role === 'edge' ? o.edge : null, hash, createdAt, deriveAckKey(password).toString('hex'));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw conflict(username);
      throw err;
    }
    const record: MqttUserRecord = o.role === 'edge' ? { role: 'edge', username, site: o.site, edge: o.edge, createdAt } : { role: 'alerts', username, site: o.site, createdAt };
    return { username, password, record };
  }

  async verifyMqttUser(username: string, password: string): Promise<MqttUserRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM mqtt_users WHERE username = ?').get(username) as UserRow | undefined;
    if (!row) return verifyNothing(password).then(() => undefined);
    if (!(await verifyPassword(password, row.password_hash))) return undefined;
    // Re-read: the user may have been rotated or revoked while scrypt ran.
    const now = this.db.prepare('SELECT password_hash FROM mqtt_users WHERE username = ?').pluck().get(username) as string | undefined;
    return now === row.password_hash ? toUser(row) : undefined;
  }

  async rotateMqttUser(username: string): Promise<{ username: string; password: string } | undefined> {
    if (!this.db.prepare('SELECT 1 FROM mqtt_users WHERE username = ?').get(username)) return undefined;
    const password = randomSecret();
    const hash = await hashPassword(password);
    for (let w = this.free(); w; w = this.free()) await w;
    const r = this.db
      .prepare('UPDATE mqtt_users SET password_hash = ?, rotated_at = ?, ack_key = ? WHERE username = ?')
      .run(hash, new Date().toISOString(), deriveAckKey(password).toString('hex'), username);
    return r.changes > 0 ? { username, password } : undefined;
  }

  async revokeMqttUser(username: string): Promise<boolean> {
    for (let w = this.free(); w; w = this.free()) await w;
    return this.db.prepare('DELETE FROM mqtt_users WHERE username = ?').run(username).changes > 0;
  }

  async listMqttUsers(): Promise<MqttUserRecord[]> {
    return (this.db.prepare('SELECT * FROM mqtt_users ORDER BY site, username').all() as UserRow[]).map(toUser);
  }

  async getMqttUser(username: string): Promise<MqttUserRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM mqtt_users WHERE username = ?').get(username) as UserRow | undefined;
    return row && toUser(row);
  }

  async getAckKey(username: string): Promise<Buffer | undefined> {
    const hex = this.db.prepare('SELECT ack_key FROM mqtt_users WHERE username = ?').pluck().get(username) as string | null | undefined;
    return hex ? Buffer.from(hex, 'hex') : undefined;
  }

  async learnAckKey(username: string, key: Buffer): Promise<boolean> {
    for (let w = this.free(); w; w = this.free()) await w;
    return this.db.prepare('UPDATE mqtt_users SET ack_key = ? WHERE username = ? AND ack_key IS NULL').run(key.toString('hex'), username).changes > 0;
  }

  async close(): Promise<void> {
    await this.own?.close();
  }
}

function conflict(username: string): CredentialError {
  return new CredentialError('SG_ERR_CONFLICT', `MQTT user ${username} already exists: rotate its password or revoke it first`);
}
