import type { Authenticator, Principal } from './auth.js';

const ANYONE: Principal = { subject: 'insecure', roles: ['admin'] };

/** `--insecure`: no authentication; every caller is admin. Loudly logged at start. */
export class InsecureAuthenticator implements Authenticator {
  readonly insecure = true;
  async http(): Promise<Principal> {
    return ANYONE;
  }
}
