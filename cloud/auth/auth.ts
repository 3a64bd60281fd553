/** Roles of HTTP callers (project-scoped roles come with the business layer). */
export const ROLES = ['admin', 'site-manager', 'operator', 'procurement', 'maintenance', 'finance'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, as established by an Authenticator. */
export interface Principal {
  subject: string;
  roles: Role[];
  /** The API token's id and name, when the caller presented one (recorded on REST ledger rows). */
  token?: { id: string; name: string };
  /** Sites the principal may see; undefined = all. */
  sites?: string[];
}

/**
 * Authentication of HTTP callers and MQTT clients. `insecure.ts` lets everything through (demo,
 * tests, `--insecure`); token and credential stores plug in here without touching the routes,
 * which only declare the roles they need.
 */
export interface Authenticator {
  readonly insecure: boolean;
  /** Principal for an `Authorization` header value, or undefined when it proves nothing. */
  http(authorization: string | undefined): Promise<Principal | undefined>;
}
