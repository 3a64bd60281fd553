/**
 * How the page talks to the cloud. A wall screen's URL may carry `?token=` (kept working: it is
 * passed on as a Bearer header and to the EventSource URL); otherwise the HTTP-only cookie that
 * `POST /board/login` set is sent, and writes carry `x-stockgate-board: 1` (a header a foreign
 * page cannot send without CORS, so the cookie alone never authorises a write).
 */
const params = new URLSearchParams(location.search);
export const token = params.get('token') ?? undefined;
export const siteParam = params.get('site') ?? undefined;

function headers(write: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (token) h.authorization = `Bearer ${token}`;
  if (write) {
    h['x-stockgate-board'] = '1';
    h['content-type'] = 'application/json';
  }
  return h;
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: headers(false), credentials: 'same-origin' });
  if (!res.ok) throw Object.assign(new Error(`${path}: ${res.status}`), { status: res.status });
  return (await res.json()) as T;
}

export async function post(path: string, body: unknown): Promise<Response> {
  return fetch(path, { method: 'POST', headers: headers(true), credentials: 'same-origin', body: JSON.stringify(body) });
}

export function eventsUrl(site?: string): string {
  const q = new URLSearchParams();
  if (site) q.set('site', site);
  if (token) q.set('token', token);
  const s = q.toString();
  return `/board/events${s ? `?${s}` : ''}`;
}
