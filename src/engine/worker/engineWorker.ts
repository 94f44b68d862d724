// Entry of the engine worker thread (bundled to dist/engineWorker.js). The extension host and the CLI
// start it through host/engineClient.ts; the protocol loop itself lives in serveEngine.ts.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { EngineWorkerData } from '../engineService';
import { MoeEngineService } from '../moeEngineService';
import { serveEngine } from './serveEngine';

if (isMainThread || parentPort === null) {
  // Running this file directly would leave a process waiting on nothing; say so instead.
  throw new Error('engineWorker must be started as a worker thread (see host/engineClient.ts)');
}

serveEngine(parentPort, new MoeEngineService((workerData ?? {}) as EngineWorkerData));
