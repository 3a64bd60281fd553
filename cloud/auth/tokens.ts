import type { Authenticator, Principal } from './auth.js';
import type { CredentialStore } from './credential-store.js';

/**
 * Authentication on (the default): HTTP callers present `Authorization: Bearer sgt_<id>_<secret>`
 * (issued by `stockgate admin init` or `POST /api/v1/tokens`). Looked up in the credential store
 * on every request, so a revocation takes effect at once.
 */
export class TokenAuthenticator implements Authenticator {
  readonly insecure = false;

  constructor(private readonly store: CredentialStore) {}

  async http(authorization: string | undefined): Promise<Principal | undefined> {
    const m = /^Bearer +(\S+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const t = await this.store.verifyToken(m[1]!);
    if (!t) return undefined;
    return { subject: `token:${t.id}`, roles: t.roles, token: { id: t.id, name: t.name }, ...(t.sites ? { sites: t.sites } : {}) };
  }
}
