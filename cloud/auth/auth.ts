/**
 * Roles of HTTP callers. `project-manager` is project-scoped (issue 10 §5): a caller whose only
 * role it is sees the projects it manages or is listed on, nothing else (cloud/api/scope.ts).
 */
export const ROLES = ['admin', 'site-manager', 'operator', 'procurement', 'maintenance', 'finance', 'project-manager'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, as established by an Authenticator. */
export interface Principal {
  subject: string;
  roles: Role[];
  /** The API token's id and name, when the caller presented one (recorded on REST ledger rows). */
  token?: { id: string; name: string };
  /** Sites the principal may see; undefined = all. */
  sites?: string[];
  /** The user a token was issued for (`POST /api/v1/tokens {"user"}`): roles and sites are the user's, read per request. */
  user?: string;
  /** Projects the user is listed on (besides those it manages), from its user record. */
  projects?: string[];
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
