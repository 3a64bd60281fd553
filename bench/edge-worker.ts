/**
 * One worker thread of simulated edges for `runEdges` (bench/edges.ts): prepares its edges, says
 * so, runs them on 'go' and posts what they measured. Its own thread so its outbox fsyncs block
 * only its own edges, as on separate edge machines.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type EdgeRun, prepareEdges } from './edges.js';

const { o, indexes } = workerData as { o: EdgeRun; indexes: number[] };
const edges = await prepareEdges(o, indexes);
parentPort!.once('message', () => {
  void edges.run().then((r) => parentPort!.postMessage(r));
});
parentPort!.postMessage('ready');
