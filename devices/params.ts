import type { DeviceProfile, ParamSpec } from './driver.js';

/** A coded error for a bad device URI or parameter (the edge reports it at start, by field). */
export function uriError(message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code: 'SG_ERR_DEVICE_URI' });
}

export type ParamValues = Record<string, string | number>;

/**
 * Validate a driver's URI parameters against its profile and fill in the defaults. Throws
 * SG_ERR_DEVICE_URI naming the driver, the parameter and what is allowed.
 */
export function resolveParams(profile: DeviceProfile, given: Record<string, string> = {}): ParamValues {
  const specs: Readonly<Record<string, ParamSpec>> = profile.params ?? {};
  const out: ParamValues = {};
  for (const key of Object.keys(given)) {
    if (!(key in specs)) {
      const known = Object.keys(specs);
      throw uriError(`driver ${profile.driver}: unknown parameter '${key}'${known.length ? ` (known: ${known.join(', ')})` : ' (it takes none)'}`);
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const v = given[key];
    if (spec.type === 'enum') {
      if (v !== undefined && !spec.values.includes(v)) throw uriError(`driver ${profile.driver}: ${key}=${v} is not one of ${spec.values.join('|')}`);
      out[key] = v ?? spec.default;
    } else if (spec.type === 'int') {
      if (v === undefined) {
        out[key] = spec.default;
        continue;
      }
      const n = /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
      if (!Number.isInteger(n) || n < spec.min || n > spec.max) {
        throw uriError(`driver ${profile.driver}: ${key}=${v} is not a whole number ${spec.min}..${spec.max}`);
      }
      out[key] = n;
    } else {
      if (v !== undefined && !new RegExp(`^(?:${spec.pattern})$`).test(v)) {
        throw uriError(`driver ${profile.driver}: ${key}=${v} does not match ${spec.pattern}`);
      }
      const value = v ?? spec.default;
      if (value !== undefined) out[key] = value;
    }
  }
  return out;
}
