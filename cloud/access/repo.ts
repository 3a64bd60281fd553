import type { Role } from '../auth/auth.js';
import type { Tx } from '../db/index.js';

/** A user of the API (issue 10 §5): tokens issued for it act with its roles, sites and projects. */
export interface User {
  id: string;
  name: string;
  roles: Role[];
  /** Sites the user may see; absent = every site. */
  sites?: string[];
  /** Projects it may see besides those it manages (project-manager). */
  projects?: string[];
  createdAt: string;
  updatedAt: string;
}

type Q = Pick<Tx, 'selectFrom'>;

function userOf(r: Record<string, unknown>): User {
  const u: User = { id: r.id as string, name: r.name as string, roles: JSON.parse(r.roles as string) as Role[], createdAt: r.created_at as string, updatedAt: r.updated_at as string };
  if (r.sites !== null && r.sites !== undefined) u.sites = JSON.parse(r.sites as string) as string[];
  if (r.projects !== null && r.projects !== undefined) u.projects = JSON.parse(r.projects as string) as string[];
  return u;
}

export async function getUser(db: Q, id: string): Promise<User | undefined> {
  const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? userOf(r) : undefined;
}

export async function listUsers(db: Q): Promise<User[]> {
  return (await db.selectFrom('users').selectAll().orderBy('id').execute()).map(userOf);
}

/** Users holding `role` who see `site` (no sites listed = every site): e.g. a site's managers. */
export async function usersWithRole(db: Q, role: Role, site: string): Promise<User[]> {
  return (await listUsers(db)).filter((u) => u.roles.includes(role) && (u.sites === undefined || u.sites.includes(site)));
}

export async function putUser(tx: Tx, u: User): Promise<void> {
  const row = { id: u.id, name: u.name, roles: JSON.stringify(u.roles), sites: u.sites ? JSON.stringify(u.sites) : null, projects: u.projects ? JSON.stringify(u.projects) : null, created_at: u.createdAt, updated_at: u.updatedAt };
  await tx
    .insertInto('users')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet({ name: row.name, roles: row.roles, sites: row.sites, projects: row.projects, updated_at: row.updated_at }))
    .execute();
}

export async function linkToken(tx: Tx, tokenId: string, userId: string): Promise<void> {
  await tx.insertInto('user_tokens').values({ token_id: tokenId, user_id: userId }).execute();
}

/** The user a token was issued for: undefined when none; `null` when it was, but the user is gone. */
export async function userOfToken(db: Q, tokenId: string): Promise<User | null | undefined> {
  const link = await db.selectFrom('user_tokens').select('user_id').where('token_id', '=', tokenId).executeTakeFirst();
  if (!link) return undefined;
  return (await getUser(db, link.user_id as string)) ?? null;
}
