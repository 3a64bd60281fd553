import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { authDbPath, SqliteCredentialStore } from '../../cloud/auth/sqlite.js';
import { parseCloudConfig } from '../../cloud/config.js';
import { startCloud, type RunningCloud } from '../../cloud/service.js';
import { tempDir } from './procs.js';

/** The PostgreSQL of the test machine (trust auth), database `test`; each cloud gets its own schema. */
export const PG_URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export type Backend = 'sqlite' | 'postgres';

export interface CallResult {
  status: number;
  /** Parsed JSON, or the text when it is not JSON. */
  body: any;
  text: string;
  contentType: string;
  /** The response's headers (none when it hung). */
  headers?: Headers;
}

export interface ApiCloud {
  cloud: RunningCloud;
  url: string;
  /** An unrestricted admin token. */
  admin: string;
  call(method: string, path: string, o?: { token?: string | null; body?: unknown; rawBody?: string; timeoutMs?: number; headers?: Record<string, string> }): Promise<CallResult>;
  stop(): Promise<void>;
}

/**
 * An in-process cloud with authentication ON (embedded broker on a free port), on SQLite or on
 * its own PostgreSQL schema, and a `call` that never hangs: an answer that takes longer than
 * `timeoutMs` (default 5 s) is reported as status 0, so a test sees "hung" instead of timing out.
 * `config`: more of the cloud's configuration (`parseCloudConfig` input), e.g. a small bound.
 */
export async function startApiCloud(backend: Backend, config: Record<string, unknown> = {}): Promise<ApiCloud> {
  const dataDir = join(tempDir('sg-api-'), 'cloud');
  mkdirSync(dataDir, { recursive: true });
  const creds = new SqliteCredentialStore(authDbPath(dataDir));
  const admin = (await creds.initAdmin()).token;
  await creds.close();
  let schema: string | undefined;
  let store: string | undefined;
  if (backend === 'postgres') {
    schema = `sg_api_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA "${schema}"`);
    await c.end();
    store = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
  }
  const cloud = await startCloud(parseCloudConfig({ dataDir, mqttPort: 0, httpPort: 0, ...(store ? { store } : {}), ...config }), pino({ level: 'silent' }));
  const url = `http://127.0.0.1:${cloud.httpPort}`;

  const call: ApiCloud['call'] = async (method, path, o = {}) => {
    const token = o.token === undefined ? admin : o.token;
    const headers: Record<string, string> = { ...o.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    const payload = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), o.timeoutMs ?? 5000);
    try {
      const res = await fetch(`${url}${path}`, { method, headers, redirect: 'manual', signal: ac.signal, ...(payload === undefined ? {} : { body: payload }) });
      const contentType = res.headers.get('content-type') ?? '';
      let text = '';
      if (contentType.startsWith('text/event-stream')) {
        // A stream: its first event (the snapshot) is enough.
        const reader = res.body!.getReader();
        const first = await reader.read();
        text = first.value ? Buffer.from(first.value).toString('utf8') : '';
        ac.abort();
      } else {
        text = await res.text();
      }
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body, text, contentType, headers: res.headers };
    } catch (err) {
      if (ac.signal.aborted) return { status: 0, body: undefined, text: 'no answer (hung)', contentType: '' };
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    cloud,
    url,
    admin,
    call,
    async stop() {
      await cloud.stop();
      if (schema) {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      }
    },
  };
}
