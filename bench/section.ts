/**
 * The plug-in interface of `npm run bench` (bench/main.ts): a section is a module that exports a
 * `BenchSection`. main.ts parses the flags of every section, runs the selected ones in order, and
 * writes what each returns under its `name` in `bench/results/latest.json`, next to the raw MQTT
 * reference measured in the same run (machines here are shared and noisy: compare ratios to the
 * raw figure of the same run, never absolute numbers across runs). How to add one: bench/README.md.
 */
import type { ParseArgsConfig } from 'node:util';
import type { RawResult } from './common.js';

export type Flags = Record<string, string | boolean | undefined>;

// A type, not an interface: it is passed where Record<string, unknown> is expected.
export type Machine = {
  cpus: number;
  cpu: string | undefined;
  node: string;
  /** 1-minute load average when the section started (the machine is shared). */
  load1?: number;
};

export interface BenchContext {
  /** Every flag of the command line, parsed (strings or booleans, defaults applied), by name. */
  flags: Flags;
  /** Where results go (`--out`, default bench/results). */
  out: string;
  machine: Machine;
  /**
   * Raw MQTT.js QoS 1 publisher -> `broker` -> subscriber, single messages of a movement's size:
   * the yardstick. Sections with a broker of their own measure through it (before and after their
   * own phase: see `bracketRaw`); every section also gets the run's reference (`rawMqtt`).
   */
  raw(broker: string): Promise<RawResult>;
  /** A progress line on stderr (stdout carries the tables). */
  log(line: string): void;
}

export interface SectionResult {
  /** Written as `latest.json[<name>]` (plus `at` and the run's raw reference). */
  figures: Record<string, unknown>;
  /** Printed on stdout, one row each: [label, value]. */
  table?: Array<[string, string]>;
  /** false marks the run failed (exit code 1): e.g. a movement lost or doubled. */
  ok: boolean;
}

export interface BenchSection {
  /** Key in latest.json, and the name for `--only`/`--skip`. */
  name: string;
  /** One line: what it measures (printed by `--list`). */
  about: string;
  /**
   * In the default `npm run bench`. A section that is not runs only when named: `--only <name>`,
   * or its own boolean flag `--<name>` (e.g. `--pg`, `--tsdb`).
   */
  byDefault: boolean;
  /** The flags it reads (node:util parseArgs options); names are shared by all sections. */
  options?: NonNullable<ParseArgsConfig['options']>;
  run(ctx: BenchContext): Promise<SectionResult>;
}

/** Raw reference measured before and after `phase` through the same broker; the mean is the yardstick. */
export async function bracketRaw<T>(ctx: BenchContext, broker: string, phase: () => Promise<T>): Promise<{ result: T; raw: RawBracket }> {
  const before = await ctx.raw(broker);
  const result = await phase();
  const after = await ctx.raw(broker);
  return { result, raw: { before, after, meanMsgsPerSec: Math.round((before.msgsPerSec + after.msgsPerSec) / 2) } };
}

export interface RawBracket {
  before: RawResult;
  after: RawResult;
  meanMsgsPerSec: number;
}

export const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
