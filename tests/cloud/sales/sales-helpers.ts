/** Helpers of the sales tests: orders with an Idempotency-Key, stock moves, invariants. */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { openDatabase, type Db } from '../../../cloud/db/index.js';
import { cloudModules } from '../../../cloud/modules.js';

export interface Answer {
  status: number;
  body: any;
}

export async function post(url: string, path: string, body: unknown, o: { token?: string; key?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.key) headers['idempotency-key'] = o.key;
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function get(url: string, path: string, token?: string): Promise<Answer> {
  const res = await fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** A REST movement (receive or issue) at the site. */
export async function move(url: string, site: string, kind: 'receive' | 'issue', sku: string, qty: number, token?: string, over: Record<string, unknown> = {}): Promise<void> {
  const m = { id: `M${randomUUID().replace(/-/g, '').slice(0, 20)}`, ts: new Date().toISOString(), site, location: 'WH-1', kind, sku, qty, uom: 'ea', ...over };
  const r = await post(url, '/api/v1/movements', { movements: [m] }, { ...(token ? { token } : {}) });
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
}

/** A second connection to the cloud's database (the invariants are read through it). */
export async function openSide(o: { dataDir: string; store?: string }): Promise<Db> {
  return openDatabase({ dataDir: o.dataDir, ...(o.store ? { store: o.store } : {}), modules: cloudModules });
}
