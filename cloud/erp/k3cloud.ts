/**
 * Kingdee K3Cloud (金蝶云星空) WebAPI adapter (issue 11 §5). The documented shape: JSON POSTs to
 * `.kdsvc` endpoints under the server's `/k3cloud/` path, after a login that sets the session
 * cookie:
 * - `Kingdee.BOS.WebApi.ServicesStub.AuthService.LoginByAppSecret.common.kdsvc`
 *   `{"acctid","username","appid","appsecret","lcid"}` -> `{"LoginResultType":1,...}` + cookie;
 * - `...DynamicFormService.Save.common.kdsvc` `{"formid","data":{"Model":{...}}}`,
 *   `...Submit...` and `...Audit...` `{"formid","data":{"Numbers":[billNo]}}`, each answering
 *   `{"Result":{"ResponseStatus":{"IsSuccess":bool,"Errors":[{"Message"}]}}}`;
 * - `...ExecuteBillQuery.common.kdsvc` `{"data":{"FormId","FieldKeys","FilterString"}}` -> rows as
 *   arrays.
 * Our document id is the bill number (`FBillNo`), and before a Save the adapter asks
 * ExecuteBillQuery whether that number exists: a retry after a Save whose answer was lost never
 * makes a second document. Every request also carries the webhooks' signature headers (HMAC of
 * the body, timestamp, event id) so a gateway in front of the ERP can check them.
 */
import { signedHeaders } from '../alerts/webhooks.js';
import type { ErpAdapter, ErpEvent, ErpEventKind } from './erp-adapter.js';

export interface K3CloudOptions {
  /** Base URL ending in `/k3cloud/`, e.g. `https://erp.example/k3cloud/`. */
  url: string;
  acctId: string;
  username: string;
  appId: string;
  appSecret: string;
  /** 2052 = Simplified Chinese. */
  lcid?: number;
  /** HMAC secret of the signature headers. */
  signingSecret: string;
  fetch?: typeof fetch;
}

const STUB = 'Kingdee.BOS.WebApi.ServicesStub';
export const K3_ENDPOINTS = {
  login: `${STUB}.AuthService.LoginByAppSecret.common.kdsvc`,
  save: `${STUB}.DynamicFormService.Save.common.kdsvc`,
  submit: `${STUB}.DynamicFormService.Submit.common.kdsvc`,
  audit: `${STUB}.DynamicFormService.Audit.common.kdsvc`,
  query: `${STUB}.DynamicFormService.ExecuteBillQuery.common.kdsvc`,
} as const;

/** The K3Cloud form of each event kind (standard forms; the cost report needs a custom form). */
export const K3_FORMS: Readonly<Record<ErpEventKind, string>> = {
  'purchase-order': 'PUR_PurchaseOrder',
  receipt: 'STK_InStock',
  'project-issue': 'STK_MisDelivery',
  'sales-shipment': 'SAL_OUTSTOCK',
  'cost-report': 'SG_ProjectCostReport',
};

type Line = { sku: string; qty: number; unitPrice?: string; project?: string; stage?: string; expectedAt?: string; location?: string };

/** Our document -> the form's Model (field keys as K3Cloud names them). */
export function toModel(e: ErpEvent): Record<string, unknown> {
  const b = e.body as { site?: string; date?: string; supplier?: string; customer?: string; project?: string; lines?: Line[]; [k: string]: unknown };
  const date = b.date ?? new Date().toISOString().slice(0, 10);
  const org = { FNumber: b.site ?? e.site ?? '' };
  const lines = b.lines ?? [];
  switch (e.kind) {
    case 'purchase-order':
      return {
        FBillNo: e.docId,
        FDate: date,
        FSupplierId: { FNumber: b.supplier },
        FPurchaseOrgId: org,
        FPOOrderEntry: lines.map((l) => ({ FMaterialId: { FNumber: l.sku }, FQty: l.qty, ...(l.unitPrice ? { FTaxPrice: l.unitPrice } : {}), ...(l.expectedAt ? { FDeliveryDate: l.expectedAt } : {}), ...(l.project ? { FNote: `${l.project}${l.stage ? `/${l.stage}` : ''}` } : {}) })),
      };
    case 'receipt':
      return { FBillNo: e.docId, FDate: date, FStockOrgId: org, FSupplierId: { FNumber: b.supplier }, FInStockEntry: lines.map((l) => ({ FMaterialId: { FNumber: l.sku }, FRealQty: l.qty, FStockId: { FNumber: l.location } })) };
    case 'project-issue':
      return { FBillNo: e.docId, FDate: date, FStockOrgId: org, FNote: b.project, FEntity: lines.map((l) => ({ FMaterialId: { FNumber: l.sku }, FQty: l.qty, FStockId: { FNumber: l.location }, FEntryNote: `${l.project ?? b.project ?? ''}${l.stage ? `/${l.stage}` : ''}` })) };
    case 'sales-shipment':
      return { FBillNo: e.docId, FDate: date, FSaleOrgId: org, FCustomerID: { FNumber: b.customer }, FEntity: lines.map((l) => ({ FMaterialID: { FNumber: l.sku }, FRealQty: l.qty, ...(l.unitPrice ? { FTaxPrice: l.unitPrice } : {}) })) };
    case 'cost-report':
      return { FBillNo: e.docId, FDate: date, FOrgId: org, FReport: JSON.stringify(b) };
  }
}

export class K3CloudAdapter implements ErpAdapter {
  readonly name = 'k3cloud';
  private cookie: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(private readonly o: K3CloudOptions) {
    this.fetch = o.fetch ?? fetch;
    // Endpoints resolve against the base: without the trailing slash `new URL` would drop `k3cloud`.
    if (!o.url.endsWith('/')) this.o = { ...o, url: `${o.url}/` };
  }

  private async call(endpoint: string, payload: unknown, eventId: string, signal: AbortSignal): Promise<any> {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = { ...signedHeaders(this.o.signingSecret, body, eventId, new Date()), ...(this.cookie ? { cookie: this.cookie } : {}) };
    const res = await this.fetch(new URL(endpoint, this.o.url), { method: 'POST', headers, body, signal });
    const text = await res.text();
    if (!res.ok) throw new Error(`k3cloud ${endpoint}: HTTP ${res.status}`);
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0];
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`k3cloud ${endpoint}: not JSON`);
    }
  }

  private async login(eventId: string, signal: AbortSignal): Promise<void> {
    const r = await this.call(K3_ENDPOINTS.login, { acctid: this.o.acctId, username: this.o.username, appid: this.o.appId, appsecret: this.o.appSecret, lcid: this.o.lcid ?? 2052 }, eventId, signal);
    if (r?.LoginResultType !== 1) throw new Error(`k3cloud login refused: ${r?.Message ?? JSON.stringify(r).slice(0, 200)}`);
  }

  private static ok(r: any, what: string): void {
    const st = r?.Result?.ResponseStatus;
    if (st?.IsSuccess === true) return;
    const msg = (st?.Errors ?? []).map((x: { Message?: string }) => x.Message).join('; ');
    throw new Error(`k3cloud ${what} refused: ${msg || JSON.stringify(r).slice(0, 200)}`);
  }

  async deliver(e: ErpEvent, signal: AbortSignal): Promise<void> {
    try {
      await this.deliverOnce(e, signal);
    } catch (err) {
      // A session that expired or a login refused: log in again on the next try.
      this.cookie = undefined;
      throw err;
    }
  }

  private async deliverOnce(e: ErpEvent, signal: AbortSignal): Promise<void> {
    if (!this.cookie) await this.login(e.eventId, signal);
    const formid = K3_FORMS[e.kind];
    // ExecuteBillQuery takes `{"data":{FormId,...}}` (no top-level formid) and answers rows as arrays;
    // a refusal (session lost, ...) comes as [[{"Result":{"ResponseStatus":...}}]], not as a row.
    const found = await this.call(K3_ENDPOINTS.query, { data: { FormId: formid, FieldKeys: 'FBillNo,FDocumentStatus', FilterString: `FBillNo='${e.docId.replace(/'/g, "''")}'` } }, e.eventId, signal);
    if (!Array.isArray(found)) K3CloudAdapter.ok(found, 'ExecuteBillQuery');
    const row = (found as unknown[])[0] as unknown[] | undefined;
    if (row !== undefined && (!Array.isArray(row) || row[0] !== e.docId)) K3CloudAdapter.ok(Array.isArray(row) ? row[0] : row, 'ExecuteBillQuery');
    // FDocumentStatus: A created, B submitted, C audited.
    const status = row ? String(row[1] ?? 'A') : undefined;
    if (!status) K3CloudAdapter.ok(await this.call(K3_ENDPOINTS.save, { formid, data: { IsAutoSubmitAndAudit: false, Model: toModel(e) } }, e.eventId, signal), 'Save');
    if (!status || status === 'A') K3CloudAdapter.ok(await this.call(K3_ENDPOINTS.submit, { formid, data: { Numbers: [e.docId] } }, e.eventId, signal), 'Submit');
    if (status !== 'C') K3CloudAdapter.ok(await this.call(K3_ENDPOINTS.audit, { formid, data: { Numbers: [e.docId] } }, e.eventId, signal), 'Audit');
  }
}
