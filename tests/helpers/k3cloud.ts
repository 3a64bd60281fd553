/**
 * A local stand-in for Kingdee K3Cloud's WebAPI (issue 11 §5), checking the documented request
 * shape of every call instead of accepting anything:
 * - JSON POSTs to `/k3cloud/Kingdee.BOS.WebApi.ServicesStub.<Service>.<Method>.common.kdsvc`;
 * - `AuthService.LoginByAppSecret` `{"acctid","username","appid","appsecret","lcid"}` answers
 *   `{"LoginResultType":1}` and the session cookie only for the expected credentials; every other
 *   call needs that cookie;
 * - `DynamicFormService.ExecuteBillQuery` `{"data":{"FormId","FieldKeys","FilterString"}}` -> rows
 *   as arrays;
 * - `DynamicFormService.Save` `{"formid","data":{"Model":{FBillNo,...}}}`, `Submit` / `Audit`
 *   `{"formid","data":{"Numbers":[...]}}`, each answering `{"Result":{"ResponseStatus":{...}}}`;
 *   Audit only after Submit, a second Save of one bill number refused (K3Cloud's unique FBillNo).
 * Every request must carry the webhooks' signature headers (cloud/alerts/webhooks.ts).
 * `failSaves` Saves answer HTTP 500 first.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_ID_HEADER, signature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../cloud/alerts/webhooks.js';

export interface K3Bill {
  formid: string;
  model: Record<string, any>;
  status: 'A' | 'B' | 'C';
}

export interface K3Emulator {
  server: Server;
  /** `http://127.0.0.1:PORT/k3cloud/` once listening. */
  url: () => string;
  bills: Map<string, K3Bill>;
  /** Calls made, as `Service.Method`. */
  calls: string[];
  /** Requests whose shape or signature broke the documented contract: each names what was wrong. */
  violations: string[];
  /** Forget every session (a K3Cloud restart or a session timeout): the next call must log in again. */
  dropSessions: () => void;
  listen: () => Promise<void>;
  close: () => Promise<void>;
}

const PREFIX = '/k3cloud/Kingdee.BOS.WebApi.ServicesStub.';
const SUFFIX = '.common.kdsvc';

export function k3Emulator(o: { acctId: string; username: string; appId: string; appSecret: string; signingSecret: string; failSaves: number }): K3Emulator {
  const bills = new Map<string, K3Bill>();
  const calls: string[] = [];
  const violations: string[] = [];
  let failSaves = o.failSaves;
  let session = `kdservice-sessionid=${Math.random().toString(36).slice(2)}`;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const url = req.url ?? '';
      const bad = (what: string) => violations.push(`${url.replace(PREFIX, '')}: ${what}`);
      const status = (ok: boolean, errors: string[] = [], extra: object = {}) =>
        res.end(JSON.stringify({ Result: { ResponseStatus: { IsSuccess: ok, Errors: errors.map((Message) => ({ Message })), ...(ok ? { SuccessEntitys: [] } : {}) }, ...extra } }));
      if (req.method !== 'POST' || !url.startsWith(PREFIX) || !url.endsWith(SUFFIX)) {
        bad(`not a POST to a .kdsvc endpoint (${req.method} ${url})`);
        res.statusCode = 404;
        return res.end('{}');
      }
      const call = url.slice(PREFIX.length, -SUFFIX.length);
      calls.push(call);
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) bad('content-type is not application/json');
      const ts = String(req.headers[TIMESTAMP_HEADER] ?? '');
      if (req.headers[SIGNATURE_HEADER] !== signature(o.signingSecret, ts, raw)) bad('signature header does not match the body');
      if (!req.headers[EVENT_ID_HEADER]) bad('no event id header');
      let body: any;
      try {
        body = JSON.parse(raw);
      } catch {
        bad('body is not JSON');
        res.statusCode = 400;
        return res.end('{}');
      }
      if (call === 'AuthService.LoginByAppSecret') {
        const good = body.acctid === o.acctId && body.username === o.username && body.appid === o.appId && body.appsecret === o.appSecret && typeof body.lcid === 'number';
        if (!good) {
          bad(`login fields ${JSON.stringify({ ...body, appsecret: body.appsecret === o.appSecret ? '(right)' : '(wrong)' })}`);
          return res.end(JSON.stringify({ LoginResultType: 0, Message: 'login refused' }));
        }
        res.setHeader('set-cookie', `${session}; path=/; HttpOnly`);
        return res.end(JSON.stringify({ LoginResultType: 1, Context: { UserName: o.username } }));
      }
      if (req.headers.cookie !== session) {
        // K3Cloud answers a lost session in its body; the client must log in again.
        if (!req.headers.cookie) bad('no session cookie (call before login)');
        return status(false, ['会话信息已丢失，请重新登录']);
      }
      if (call === 'DynamicFormService.ExecuteBillQuery') {
        // `{"data":{"FormId","FieldKeys","FilterString"}}`: the form is named inside data.
        const d = body.data ?? {};
        const formid = d.FormId as string;
        const m = typeof d.FilterString === 'string' ? /^FBillNo='((?:[^']|'')*)'$/.exec(d.FilterString) : null;
        if (typeof formid !== 'string' || !formid || typeof d.FieldKeys !== 'string' || !d.FieldKeys.split(',').includes('FBillNo') || !m) {
          bad(`query ${JSON.stringify(d)}`);
          return status(false, ['bad query']);
        }
        const no = m[1]!.replace(/''/g, "'");
        const b = bills.get(no);
        return res.end(JSON.stringify(b && b.formid === formid ? [d.FieldKeys.split(',').map((k: string) => (k === 'FBillNo' ? no : k === 'FDocumentStatus' ? b.status : null))] : []));
      }
      if (typeof body.formid !== 'string' || !body.formid || typeof body.data !== 'object' || body.data === null) {
        bad('expected {"formid","data":{...}}');
        return status(false, ['formid/data missing']);
      }
      const formid = body.formid as string;
      if (call === 'DynamicFormService.Save') {
        const model = body.data.Model;
        if (typeof model !== 'object' || model === null || typeof model.FBillNo !== 'string' || !model.FBillNo) {
          bad('Save without data.Model.FBillNo');
          return status(false, ['Model missing']);
        }
        if (failSaves > 0) {
          failSaves--;
          res.statusCode = 500;
          return res.end('{"Message":"service busy"}');
        }
        if (bills.has(model.FBillNo)) return status(false, [`单据编号 ${model.FBillNo} 已存在`]);
        bills.set(model.FBillNo, { formid, model, status: 'A' });
        return status(true, [], { Id: bills.size, Number: model.FBillNo });
      }
      if (call === 'DynamicFormService.Submit' || call === 'DynamicFormService.Audit') {
        const nos = body.data.Numbers;
        if (!Array.isArray(nos) || nos.length === 0 || nos.some((n: unknown) => typeof n !== 'string')) {
          bad(`${call} without data.Numbers`);
          return status(false, ['Numbers missing']);
        }
        for (const no of nos as string[]) {
          const b = bills.get(no);
          if (!b || b.formid !== formid) return status(false, [`${no} not found`]);
          if (call.endsWith('Submit')) {
            if (b.status !== 'A') return status(false, [`${no} is not in created state`]);
            b.status = 'B';
          } else {
            if (b.status !== 'B') return status(false, [`${no} is not submitted`]);
            b.status = 'C';
          }
        }
        return status(true);
      }
      bad(`unknown call ${call}`);
      res.statusCode = 404;
      return res.end('{}');
    });
  });
  return {
    server,
    url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/k3cloud/`,
    bills,
    calls,
    violations,
    dropSessions: () => {
      session = `kdservice-sessionid=${Math.random().toString(36).slice(2)}`;
    },
    listen: () => new Promise<void>((r) => server.listen(0, '127.0.0.1', r)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
