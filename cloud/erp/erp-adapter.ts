/** What an ERP adapter does with one queued event (the documents it maps to and the calls it makes). */
export type ErpEventKind = 'purchase-order' | 'receipt' | 'project-issue' | 'sales-shipment' | 'cost-report';

export interface ErpEvent {
  eventId: string;
  kind: ErpEventKind;
  docId: string;
  site: string | null;
  /** The document as stockgate states it (quantities as decimals, money as decimal strings). */
  body: Record<string, unknown>;
}

/**
 * One ERP. `deliver` resolves when the ERP holds the document (and it is submitted and audited
 * where the ERP has those steps); it throws to be retried with backoff. It must be idempotent per
 * `eventId`: a retry after a partial success must not make a second document.
 */
export interface ErpAdapter {
  readonly name: string;
  deliver(e: ErpEvent, signal: AbortSignal): Promise<void>;
}
