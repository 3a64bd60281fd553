/** The public face of cloud/erp: the outbound queue (enqueue inside a caller's transaction), the sender, the K3Cloud adapter, the ledger consumer, the module. */
export type { ErpAdapter, ErpEvent, ErpEventKind } from './erp-adapter.js';
export { enqueue, outbox } from './queue.js';
export { ErpSender, type ErpSenderOptions, type ErpSenderStats } from './sender.js';
export { K3_ENDPOINTS, K3_FORMS, K3CloudAdapter, type K3CloudOptions, toModel } from './k3cloud.js';
export { erpConsumer } from './consumer.js';
export { erpModule } from './module.js';
