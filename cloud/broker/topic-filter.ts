/**
 * MQTT topic filter -> RegExp (MQTT 3.1.1 §4.7.1): `+` is exactly one level, a trailing `#` is
 * its parent level and any number of levels below it (`a/#` matches `a`, `a/b`, `a/b/c`; §4.7.1.2).
 * A `$share/group/` prefix is not part of the matched topic. Used where the cloud matches topics
 * itself: the external broker's handlers (`mqtt.ts`) and the embedded broker's flow control
 * (`aedes.ts`). Why not a library: the brokers' own matchers (aedes's qlobber) are internal to
 * them, and this is the whole rule.
 */
export function filterToRegExp(filter: string): RegExp {
  const levels = filter.replace(/^\$share\/[^/]+\//, '').split('/');
  const multi = levels[levels.length - 1] === '#';
  if (multi) levels.pop();
  const body = levels.map((p) => (p === '+' ? '[^/]*' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  if (!multi) return new RegExp(`^${body}$`);
  return new RegExp(levels.length ? `^${body}(?:/.*)?$` : '^.*$');
}
