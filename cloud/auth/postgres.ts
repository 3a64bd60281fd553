import { type Kysely, sql } from 'kysely';
import { deriveAckKey } from '../../protocols/mqtt/index.js';
import { type PostgresDb, PostgresDatabase } from '../db/index.js';
import type { SqliteMigration } from '../sqlite-db.js';
import { alertsUsername, edgeUsername } from './acl.js';
import type { Role } from './auth.js';
import { type CredentialStore, CredentialError, type MqttUserRecord, type NewMqttUser, type TokenRecord } from './credential-store.js';
import { authModule } from './module.js';
import { digestEquals, formatToken, hashPassword, parseToken, randomId, randomSecret, sha256, verifyNothing, verifyPassword } from './secrets.js';
import { type TokenRow, toToken, toUser, type UserRow } from './sqlite.js';

/**
 * The credential tables on PostgreSQL: the same columns as on SQLite (so a 0.1 `auth.db` copies
 * in row for row, `cloud/db/legacy.ts`), keys in the "C" collation (byte order, like SQLite).
 * Append only: a released migration never changes.
 */
export const authPgMigrations: SqliteMigration[] = [
  {
    version: 1,
    name: 'tokens, mqtt users',
    sql: `
      CREATE TABLE tokens (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        roles TEXT NOT NULL,          -- JSON array of roles
        sites TEXT,                   -- JSON array of sites; NULL = all
        secret_sha256 TEXT NOT NULL,  -- hex SHA-256 of the secret part; the token itself is never stored
        created_at TEXT COLLATE "C" NOT NULL,
        revoked_at TEXT,
        init INTEGER NOT NULL DEFAULT 0  -- 1 = issued by 'stockgate admin init'
      );
      CREATE TABLE mqtt_users (
        username TEXT COLLATE "C" PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('edge', 'alerts')),
        site TEXT COLLATE "C" NOT NULL,
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
    // As on SQLite: HMAC(password, "stockgate/ack") as hex; NULL until learnt or rotated.
    sql: 'ALTER TABLE mqtt_users ADD COLUMN ack_key TEXT;',
  },
];

interface AuthTables {
  tokens: TokenRow & { init: number };
  mqtt_users: UserRow & { ack_key: string | null };
}

/** Advisory lock namespace ('SG'), 5: `admin init` of a schema (two at once issue one token). Each user of advisory locks has its own (tests/cloud/db/advisory-locks.test.ts). */
const LOCK_NS_AUTH = 0x5347_0005;

function conflict(username: string): CredentialError {
  return new CredentialError('SG_ERR_CONFLICT', `MQTT user ${username} already exists: rotate its password or revoke it first`);
}

/**
 * Credentials in the PostgreSQL schema of the ledger (`--store postgres://...`), through Kysely:
 * every ingester of a scale-out deployment reads the same tokens and MQTT users, so a token issued
 * through one works on all of them at once. Same contract as `SqliteCredentialStore`
 * (`tests/contracts/credential-store.contract.ts`).
 */
export class PgCredentialStore implements CredentialStore {
  private readonly db: Kysely<AuthTables>;

  private constructor(
    database: PostgresDb,
    /** The database this store opened itself (closed with it); undefined on a shared one. */
    private readonly own: PostgresDatabase | undefined,
  ) {
    this.db = database.kysely as Kysely<AuthTables>;
  }

  /** On a database of its own (tests): the schema is created if missing; the auth migrations run. */
  static async open(o: { url: string; schema?: string; maxConnections?: number }): Promise<PgCredentialStore> {
    const db = await PostgresDatabase.open({ url: o.url, ...(o.schema ? { schema: o.schema } : {}), maxConnections: o.maxConnections ?? 4 });
    try {
      await db.migrate(authModule);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new PgCredentialStore(db, db);
  }

  /** On the cloud's one database (`cloud/db/`); applies the auth module's pending migrations. */
  static async on(db: PostgresDb): Promise<PgCredentialStore> {
    await db.migrate(authModule);
    return new PgCredentialStore(db, undefined);
  }

  private async insertToken(db: Kysely<AuthTables>, o: { name: string; roles: Role[]; sites?: string[]; init?: boolean }): Promise<{ token: string; record: TokenRecord }> {
    const id = randomId();
    const secret = randomSecret();
    const createdAt = new Date().toISOString();
    await db
      .insertInto('tokens')
      .values({
        id,
        name: o.name,
        roles: JSON.stringify(o.roles),
        sites: o.sites ? JSON.stringify(o.sites) : null,
        secret_sha256: sha256(secret),
        created_at: createdAt,
        revoked_at: null,
        init: o.init ? 1 : 0,
      })
      .execute();
    return { token: formatToken(id, secret), record: { id, name: o.name, roles: [...o.roles], ...(o.sites ? { sites: [...o.sites] } : {}), createdAt } };
  }

  issueToken(o: { name: string; roles: Role[]; sites?: string[] }): Promise<{ token: string; record: TokenRecord }> {
    return this.insertToken(this.db, o);
  }

  async verifyToken(token: string): Promise<TokenRecord | undefined> {
    const t = parseToken(token);
    if (!t) return undefined;
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', t.id).where('revoked_at', 'is', null).executeTakeFirst();
    if (!row || !digestEquals(sha256(t.secret), row.secret_sha256)) return undefined;
    return toToken(row);
  }

  async revokeToken(id: string): Promise<boolean> {
    const r = await this.db.updateTable('tokens').set({ revoked_at: new Date().toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id').execute()).map(toToken);
  }

  async initAdmin(o: { rotate?: boolean } = {}): Promise<{ token: string; record: TokenRecord }> {
    return this.db.transaction().execute(async (trx) => {
      // Two `admin init` at once (or init beside a running cloud): one after the other.
      await sql`SELECT pg_advisory_xact_lock(${LOCK_NS_AUTH}, hashtext(coalesce(current_schema(), '')))`.execute(trx);
      const prev = await trx.selectFrom('tokens').select('created_at').where('init', '=', 1).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
      if (prev !== undefined && !o.rotate) {
        throw new CredentialError(
          'SG_ERR_ALREADY_INITIALISED',
          `an admin token was already created for this database (${prev.created_at}); to replace it run 'stockgate admin init --rotate' (the old admin token stops working)`,
        );
      }
      await trx.updateTable('tokens').set({ revoked_at: new Date().toISOString() }).where('init', '=', 1).where('revoked_at', 'is', null).execute();
      return this.insertToken(trx, { name: 'admin (stockgate admin init)', roles: ['admin'], init: true });
    });
  }

  async hasAdminToken(): Promise<boolean> {
    const rows = await this.db.selectFrom('tokens').select('roles').where('revoked_at', 'is', null).execute();
    return rows.some((r) => (JSON.parse(r.roles) as string[]).includes('admin'));
  }

  async createMqttUser(o: NewMqttUser): Promise<{ username: string; password: string; record: MqttUserRecord }> {
    const username = o.role === 'edge' ? edgeUsername(o.site, o.edge) : alertsUsername(o.site, randomId().slice(0, 8));
    if (await this.db.selectFrom('mqtt_users').select('username').where('username', '=', username).executeTakeFirst()) throw conflict(username);
    const password = randomSecret();
    const hash = await hashPassword(password);
    const createdAt = new Date().toISOString();
    try {
      await this.db
        .insertInto('mqtt_users')
        .values({
          username,
          role: o.role,
          site: o.site,
          edge: o.role === 'edge' ? o.edge : null,
          password_hash: hash,
          created_at: createdAt,
          rotated_at: null,
          ack_key: deriveAckKey(password).toString('hex'),
        })
        .execute();
    } catch (err) {
      // unique_violation: another process created it while scrypt ran.
      if ((err as { code?: string }).code === '23505') throw conflict(username);
      throw err;
    }
    const record: MqttUserRecord = o.role === 'edge' ? { role: 'edge', username, site: o.site, edge: o.edge, createdAt } : { role: 'alerts', username, site: o.site, createdAt };
    return { username, password, record };
  }

  async verifyMqttUser(username: string, password: string): Promise<MqttUserRecord | undefined> {
    const row = await this.db.selectFrom('mqtt_users').selectAll().where('username', '=', username).executeTakeFirst();
    if (!row) return verifyNothing(password).then(() => undefined);
    if (!(await verifyPassword(password, row.password_hash))) return undefined;
    // Re-read: the user may have been rotated or revoked while scrypt ran.
    const now = await this.db.selectFrom('mqtt_users').select('password_hash').where('username', '=', username).executeTakeFirst();
    return now?.password_hash === row.password_hash ? toUser(row) : undefined;
  }

  async rotateMqttUser(username: string): Promise<{ username: string; password: string } | undefined> {
    if (!(await this.db.selectFrom('mqtt_users').select('username').where('username', '=', username).executeTakeFirst())) return undefined;
    const password = randomSecret();
    const hash = await hashPassword(password);
    const r = await this.db.updateTable('mqtt_users').set({ password_hash: hash, rotated_at: new Date().toISOString(), ack_key: deriveAckKey(password).toString('hex') }).where('username', '=', username).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0 ? { username, password } : undefined;
  }

  async revokeMqttUser(username: string): Promise<boolean> {
    const r = await this.db.deleteFrom('mqtt_users').where('username', '=', username).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listMqttUsers(): Promise<MqttUserRecord[]> {
    return (await this.db.selectFrom('mqtt_users').selectAll().orderBy('site').orderBy('username').execute()).map(toUser);
  }

  async getMqttUser(username: string): Promise<MqttUserRecord | undefined> {
    const row = await this.db.selectFrom('mqtt_users').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toUser(row);
  }

  async getAckKey(username: string): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom('mqtt_users').select('ack_key').where('username', '=', username).executeTakeFirst();
    return row?.ack_key ? Buffer.from(row.ack_key, 'hex') : undefined;
  }

  async learnAckKey(username: string, key: Buffer): Promise<boolean> {
    const r = await this.db.updateTable('mqtt_users').set({ ack_key: key.toString('hex') }).where('username', '=', username).where('ack_key', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async close(): Promise<void> {
    await this.own?.close();
  }
}
