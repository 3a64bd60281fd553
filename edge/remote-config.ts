import type Database from 'better-sqlite3';
import { RemoteConfig, describeIssue } from '../protocols/mqtt/index.js';

export type RemoteConfigOutcome =
  | { result: 'applied'; version: number }
  | { result: 'ignored'; reason: string; version?: number }
  /** Invalid, or it failed to apply: the agent runs `version` (the last good one; 0 = none). */
  | { result: 'rejected'; error: string; version: number; offered?: number };

/**
 * Applies a config to the running agent; throws when it cannot (a station naming a device that
 * does not exist, an item cache write that fails...). `undefined` = no remote config (local only).
 * It must be safe to call again with the previous config: that is the rollback.
 */
export type ApplyConfig = (config: RemoteConfig | undefined) => void;

/**
 * Versioned remote config (retained on `stockgate/v1/{site}/{edge}/config`): validated with the
 * `RemoteConfig` schema, applied live, persisted as the last good version in `state.db` and
 * re-applied at start (before the devices open), so an edge that restarts offline keeps its
 * stations, reader roles and item master.
 *
 * - A version at or below the running one is ignored (the retained message comes again after
 *   every reconnect; the cloud rolls back by publishing a new version with the old content).
 * - An invalid payload or a failed apply leaves the agent on the last good version: after a
 *   failed apply the last good one is applied again (rollback), and `error` says what happened
 *   until a newer version applies. A version that failed is not retried until a newer one comes.
 */
export class RemoteConfigManager {
  private current: RemoteConfig | undefined;
  private failedVersion = 0;
  /** Why the last offered config is not running (status `configError`); undefined when it is. */
  error: string | undefined;
  private readonly s;

  constructor(
    db: Database.Database,
    private readonly apply: ApplyConfig,
  ) {
    this.s = {
      get: db.prepare('SELECT json FROM remote_config WHERE id = 1').pluck(),
      put: db.prepare(`INSERT INTO remote_config (id, version, json, applied_at) VALUES (1, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET version = excluded.version, json = excluded.json, applied_at = excluded.applied_at`),
    };
  }

  /** The running remote config version (0 = none). */
  get version(): number {
    return this.current?.version ?? 0;
  }

  get config(): RemoteConfig | undefined {
    return this.current;
  }

  /**
   * At start: apply the persisted last good config. If it no longer applies (the local config
   * changed under it, e.g. a device was removed), run on the local config alone and report it.
   */
  restore(): RemoteConfigOutcome {
    const json = this.s.get.get() as string | undefined;
    if (json === undefined) {
      this.apply(undefined);
      return { result: 'ignored', reason: 'no remote config stored' };
    }
    const parsed = RemoteConfig.safeParse(JSON.parse(json));
    try {
      if (!parsed.success) throw new Error(describeIssue(parsed.error));
      this.apply(parsed.data);
      this.current = parsed.data;
      return { result: 'applied', version: parsed.data.version };
    } catch (err) {
      this.apply(undefined);
      this.error = `stored remote config no longer applies: ${(err as Error).message}`;
      return { result: 'rejected', error: this.error, version: 0 };
    }
  }

  /** A payload from the config topic. */
  receive(payload: Buffer | string): RemoteConfigOutcome {
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    if (text.length === 0) return { result: 'ignored', reason: 'empty payload (retained config cleared): keeping the running config' };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return this.refuse(`invalid JSON: ${(err as Error).message}`);
    }
    const offered = typeof (value as { version?: unknown })?.version === 'number' ? ((value as { version: number }).version) : undefined;
    const parsed = RemoteConfig.safeParse(value);
    if (!parsed.success) {
      if (offered !== undefined && (offered <= this.version || offered === this.failedVersion)) {
        return { result: 'ignored', reason: `version ${offered} is not newer than ${this.version}`, version: offered };
      }
      if (offered !== undefined) this.failedVersion = offered;
      return this.refuse(`invalid: ${describeIssue(parsed.error)}`, offered);
    }
    const cfg = parsed.data;
    if (cfg.version <= this.version) return { result: 'ignored', reason: `version ${cfg.version} is not newer than ${this.version}`, version: cfg.version };
    if (cfg.version === this.failedVersion) return { result: 'ignored', reason: `version ${cfg.version} already failed`, version: cfg.version };
    try {
      this.apply(cfg);
    } catch (err) {
      this.failedVersion = cfg.version;
      const why = (err as Error).message;
      try {
        this.apply(this.current); // rollback to the last good version
      } catch (err2) {
        this.apply(undefined);
        this.current = undefined;
        return this.refuse(`failed to apply: ${why}; the last good version failed too (${(err2 as Error).message}): running the local config`, cfg.version);
      }
      return this.refuse(`failed to apply: ${why}`, cfg.version);
    }
    this.s.put.run(cfg.version, JSON.stringify(cfg), Date.now());
    this.current = cfg;
    this.failedVersion = 0;
    this.error = undefined;
    return { result: 'applied', version: cfg.version };
  }

  private refuse(why: string, offered?: number): RemoteConfigOutcome {
    this.error = `${offered !== undefined ? `version ${offered} ` : ''}${why}; running version ${this.version}`;
    const out: RemoteConfigOutcome = { result: 'rejected', error: this.error, version: this.version };
    if (offered !== undefined) out.offered = offered;
    return out;
  }
}
