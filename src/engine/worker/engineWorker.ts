// Entry of the engine process (bundled to dist/engineWorker.js). The extension host and the CLI start it
// with child_process.fork through host/engineClient.ts; the protocol loop itself lives in serveEngine.ts.
import type { EngineWorkerData } from '../engineService';
import { MoeEngineService } from '../moeEngineService';
import { ENGINE_DATA_ENV } from '../../protocol/engineLaunch';
import { processPort } from './enginePort';
import { installStagingCleanup } from '../surgery/stagingCleanup';
import { serveEngine } from './serveEngine';
import { withTestFaults } from './testHooks';

// Ctrl-C in a terminal reaches this process too, and the host's stop is a SIGTERM: either way what is being
// written is removed before the process ends.
installStagingCleanup();
const data = JSON.parse(process.env[ENGINE_DATA_ENV] ?? '{}') as EngineWorkerData;
if (data.hostHandlesInterrupt) {
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', () => undefined);
}
const service = new MoeEngineService(data);
serveEngine(processPort(), withTestFaults(service));

// The host is gone (closed window, killed CLI): nobody will read an answer, so stop now rather than
// linger with a model in memory.
process.on('disconnect', () => process.exit(0));
