import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { ItemRecord, RemoteConfig } from '../protocols/mqtt/index.js';
import { ConfigError, REMOTE_SETTABLE, type EdgeConfig, type RemoteSettableKey } from './config.js';
import type { HealthSettings } from './health.js';
import { readItemsFile, type ItemCache } from './item-cache.js';
import type { ItemMasterFeed } from './item-master-feed.js';
import type { SqliteOutbox } from './outbox/sqlite.js';
import { RemoteConfigManager, type RemoteConfigOutcome } from './remote-config.js';
import type { WorkflowEffect, WorkflowSettings, Workflows } from './workflows.js';

/** The keys the remote config may set (`REMOTE_SETTABLE`), as they run. */
export type Settings = Pick<EdgeConfig, RemoteSettableKey>;

export interface EdgeSettingsDeps {
  config: EdgeConfig;
  /** Keys set by command-line flags: the remote config does not change them (reported as `configShadowed`). */
  pinned: ReadonlySet<string>;
  log: Logger;
  state: Database.Database;
  workflows: Workflows;
  items: ItemCache;
  itemMaster: ItemMasterFeed;
  outbox: SqliteOutbox;
  /** Effects a settings change produced (a mode change ending an open count): to the recorder. */
  effects(effects: readonly WorkflowEffect[]): void;
  /** Tell the rest of the agent what changed: the drain rate, the telemetry interval, the outbox bound and backlog alert. */
  drainRate(perSec: number): void;
  telemetryChanged(): void;
  checkOutbox(): void;
  /** Republish the status now (a config or item master version applied or refused). */
  statusNow(): void;
}

/**
 * The agent's settings: the local configuration with the remote config (`.../config`,
 * remote-config.ts: versioned, persisted, rolled back on failure) applied live on top, and the
 * cloud's item master snapshot (`.../items`, item-master-feed.ts). Precedence: defaults < config
 * file < remote config < flags (edge/README.md, "Configuration and its precedence").
 */
export class EdgeSettings implements HealthSettings {
  readonly remote: RemoteConfigManager;
  private current: Settings;
  private shadowedKeys: string[] = [];

  constructor(private readonly d: EdgeSettingsDeps) {
    this.current = pick(d.config);
    this.remote = new RemoteConfigManager(d.state, (cfg) => this.apply(cfg));
  }

  get backlogAlert(): number {
    return this.current.backlogAlert;
  }
  get telemetryMs(): number {
    return this.current.telemetryMs;
  }
  get configVersion(): number {
    return this.remote.version;
  }
  get configError(): string | undefined {
    return this.remote.error;
  }
  get shadowed(): readonly string[] {
    return this.shadowedKeys;
  }

  /** At start, before the devices open: the last good remote config from `state.db` (when remote config is on). */
  restore(): void {
    if (!this.d.config.remoteConfig) return;
    const out = this.remote.restore();
    if (out.result === 'applied') this.d.log.info({ configVersion: out.version }, 'remote config restored from the data dir');
    else if (out.result === 'rejected') this.d.log.error({ configError: out.error }, 'stored remote config not applied');
  }

  /** A payload on `.../config`. */
  onRemoteConfig(payload: Buffer): RemoteConfigOutcome {
    const out = this.remote.receive(payload);
    const { log } = this.d;
    switch (out.result) {
      case 'applied':
        log.info({ configVersion: out.version, shadowed: this.shadowedKeys.length ? this.shadowedKeys : undefined }, 'remote config applied');
        break;
      case 'ignored':
        log.debug({ reason: out.reason }, 'remote config ignored');
        return out;
      case 'rejected':
        log.error({ configVersion: out.version, offered: out.offered, configError: out.error }, 'remote config not applied: rolled back to the last good version');
        break;
    }
    this.d.statusNow();
    return out;
  }

  /** The cloud's item master snapshot (`.../items`): into the cache's `master` source. */
  onItemMaster(payload: Buffer): void {
    const { log, itemMaster } = this.d;
    let out: ReturnType<ItemMasterFeed['receive']>;
    try {
      out = itemMaster.receive(payload);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'item master snapshot not stored');
      return;
    }
    if (out.result === 'ignored') return void log.debug({ reason: out.reason }, 'item master snapshot ignored');
    if (out.result === 'applied') log.info({ itemMasterVersion: out.version, items: out.items }, 'item master snapshot applied');
    else log.error({ itemMasterVersion: out.version, error: out.error }, 'item master snapshot not applied');
    this.d.statusNow();
  }

  /** Apply (or roll back to) a remote config on top of the local one. Throws without changing anything when it cannot apply. */
  private apply(cfg: RemoteConfig | undefined): void {
    const { config, pinned, workflows } = this.d;
    const eff = pick(config);
    const shadowed: string[] = [];
    for (const k of REMOTE_SETTABLE) {
      if (cfg?.[k] === undefined) continue;
      if (pinned.has(k)) {
        if (JSON.stringify(cfg[k]) !== JSON.stringify(config[k])) shadowed.push(k);
        continue;
      }
      (eff as Record<string, unknown>)[k] = cfg[k];
    }
    workflows.configure(workflowSettings(eff)); // validates; throws before any change
    // A mode change leaving count mode ended the open counts: commit their movements.
    this.d.effects(workflows.takeDeferred());
    this.d.items.replace('remote', cfg?.items ?? []);
    this.d.outbox.setMaxBytes(eff.outboxMaxBytes);
    this.d.drainRate(eff.drainRatePerSec);
    const telemetryChanged = this.current.telemetryMs !== eff.telemetryMs;
    this.current = eff;
    if (shadowed.length && cfg) this.d.log.warn({ keys: shadowed, configVersion: cfg.version }, 'remote config keys not applied: set by command-line flags');
    this.shadowedKeys = shadowed;
    if (telemetryChanged) this.d.telemetryChanged();
    this.d.checkOutbox();
  }
}

function pick(c: EdgeConfig): Settings {
  const out = {} as Record<string, unknown>;
  for (const k of REMOTE_SETTABLE) out[k] = c[k];
  return out as Settings;
}

/** The workflows' part of the settings. */
export function workflowSettings(s: Settings): WorkflowSettings {
  return {
    mode: s.mode,
    location: s.location,
    uom: s.uom,
    issueRequires: s.issueRequires,
    unknownItems: s.unknownItems,
    stations: s.stations,
    rfid: s.rfid,
    sessionIdleMin: s.sessionIdleMin,
  };
}

/** Items of the config file plus `--items FILE` (the file wins for a sku in both). */
export function localItems(config: EdgeConfig): ItemRecord[] {
  const bySku = new Map<string, ItemRecord>();
  for (const i of config.items) bySku.set(i.sku, i);
  if (config.itemsFile) for (const i of readItemsFile(config.itemsFile)) bySku.set(i.sku, i);
  const gtins = new Map<string, string>();
  for (const i of bySku.values()) {
    if (!i.gtin) continue;
    const other = gtins.get(i.gtin);
    if (other) throw new ConfigError(`invalid edge configuration:\n  items: GTIN ${i.gtin} is both ${other} and ${i.sku}`);
    gtins.set(i.gtin, i.sku);
  }
  return [...bySku.values()];
}
