import type { Tx } from '../db/index.js';

type Q = Pick<Tx, 'selectFrom'>;

/** Codes of the projects a user manages (`projects.manager`). */
export async function projectsOfManager(db: Q, user: string): Promise<string[]> {
  return (await db.selectFrom('projects').select('code').where('manager', '=', user).orderBy('code').execute()).map((r) => r.code as string);
}
