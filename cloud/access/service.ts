import type { Principal } from '../auth/auth.js';
import type { CredentialStore, TokenRecord } from '../auth/credential-store.js';
import { audit } from '../audit/index.js';
import { Scope } from '../api/scope.js';
import type { Db } from '../db/index.js';
import { projectsOfManager } from '../projects/index.js';
import * as repo from './repo.js';
import type { User } from './repo.js';

/** Token names of user tokens start with this; the link itself is `user_tokens` (a name alone proves nothing). */
export const USER_TOKEN_PREFIX = 'user:';

/** Create or replace a user (audited in the same transaction). True when it was created. */
export async function saveUser(db: Db, u: Omit<User, 'createdAt' | 'updatedAt'>, by: string): Promise<{ user: User; created: boolean }> {
  return db.tx(async (tx) => {
    const before = await repo.getUser(tx, u.id);
    const now = new Date().toISOString();
    const user: User = { ...u, createdAt: before?.createdAt ?? now, updatedAt: now };
    await repo.putUser(tx, user);
    await audit(tx, { entity: 'user', id: u.id, action: before ? 'update' : 'create', by, before: before ?? null, after: user });
    return { user, created: !before };
  });
}

export const getUser = (db: Db, id: string) => repo.getUser(db.kysely, id);
export const listUsers = (db: Db) => repo.listUsers(db.kysely);

/**
 * Issue a token for a user: it carries the user's roles and sites as issued (shown by
 * `GET /api/v1/tokens`), but every request reads the user again (`resolvePrincipal`), so a
 * change of the user's roles, sites or projects applies at once to its tokens.
 */
export async function issueUserToken(db: Db, credentials: CredentialStore, user: User): Promise<{ token: string; record: TokenRecord & { user: string } }> {
  const { token, record } = await credentials.issueToken({ name: `${USER_TOKEN_PREFIX}${user.id}`, roles: user.roles, ...(user.sites ? { sites: user.sites } : {}) });
  try {
    await db.tx((tx) => repo.linkToken(tx, record.id, user.id));
  } catch (err) {
    await credentials.revokeToken(record.id);
    throw err;
  }
  return { token, record: { ...record, user: user.id } };
}

/**
 * The principal of a request, with a user token's roles, sites and projects read from its user
 * now (undefined when the user no longer exists: 401). Other tokens are returned as they are.
 */
export async function resolvePrincipal(db: Db, p: Principal): Promise<Principal | undefined> {
  if (!p.token?.name.startsWith(USER_TOKEN_PREFIX)) return p;
  const u = await repo.userOfToken(db.kysely, p.token.id);
  if (u === undefined) return p;
  if (u === null) return undefined;
  const { sites: _s, ...rest } = p;
  return { ...rest, roles: u.roles, user: u.id, ...(u.sites ? { sites: u.sites } : {}), ...(u.projects ? { projects: u.projects } : {}) };
}

/**
 * The caller's scope, once per request: for a project manager, its projects are those it manages
 * (`projects.manager` = its user id) plus those its user lists (issue 10 §5).
 */
export async function scopeOf(db: Db, p: Principal): Promise<Scope> {
  if (!p.roles.includes('project-manager')) return Scope.of(p);
  const managed = new Set(p.projects ?? []);
  if (p.user) for (const code of await projectsOfManager(db.kysely, p.user)) managed.add(code);
  return Scope.of(p, managed);
}

/** The project an MQTT alerts reader is limited to (`POST /api/v1/mqtt-users {"project"}`), if any. */
export async function mqttUserProject(db: Db, username: string): Promise<string | undefined> {
  const r = await db.kysely.selectFrom('mqtt_user_projects').select('project').where('username', '=', username).executeTakeFirst();
  return (r?.project as string | undefined) ?? undefined;
}

/** Limit an alerts reader to one project's alert topics (`stockgate/v1/{site}/alerts/projects/{project}/#`). */
export async function limitMqttUserToProject(db: Db, username: string, project: string): Promise<void> {
  await db.tx((tx) => tx.insertInto('mqtt_user_projects').values({ username, project }).execute());
}
