// The worker side of the engine protocol: a FIFO request queue in front of an EngineService. Kept apart
// from the entry file so the test suite can serve a scripted service through this exact loop.
import type { MessagePort } from 'node:worker_threads';
import type { EngineMethod, EngineMethods, HostToWorker, Progress, WorkerToHost } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { transferablesOf } from '../../protocol/tensors';
import type { EngineService, RequestContext } from '../engineService';

interface Job {
  readonly id: number;
  readonly method: EngineMethod;
  readonly params: unknown;
  readonly controller: AbortController;
}

export interface EngineServer {
  /** Stops listening. Does not dispose the service: the caller owns it. */
  dispose(): void;
}

/**
 * Answers HostToWorker messages on `port` with `service`, one request at a time in arrival order (the
 * engine is not reentrant). Posts `ready` once listening.
 */
export function serveEngine(port: MessagePort, service: EngineService): EngineServer {
  const queue: Job[] = [];
  let running: Job | undefined;

  // A failed postMessage must still settle the request, or the host would wait forever. A buffer that
  // refuses to move (e.g. one from Node's Buffer pool) is retried as a copy; a result that cannot be
  // cloned at all becomes an error; a failure to post that error too is only logged.
  const post = (msg: WorkerToHost, transfer: ArrayBuffer[] = []): void => {
    try {
      port.postMessage(msg, transfer);
    } catch (e) {
      if (transfer.length > 0) {
        post(msg);
      } else if (msg.kind === 'result') {
        post({ kind: 'error', id: msg.id, error: new MoeError('E_INTERNAL', `the engine result could not be sent: ${MoeError.from(e).message}`).toData() });
      } else {
        console.error('[engine worker] postMessage failed:', e);
      }
    }
  };

  const run = async (job: Job): Promise<void> => {
    let settled = false;
    const ctx: RequestContext = {
      signal: job.controller.signal,
      progress: (p: Progress) => {
        // Progress after the answer would arrive at the host for an id it no longer knows.
        if (!settled) post({ kind: 'progress', id: job.id, progress: p });
      },
    };
    try {
      const result = await service.handle(job.method, job.params as EngineMethods[typeof job.method]['params'], ctx);
      settled = true;
      // Transfer, don't copy: routing and hidden states can be hundreds of megabytes.
      post({ kind: 'result', id: job.id, result }, transferablesOf(result));
    } catch (e) {
      settled = true;
      post({ kind: 'error', id: job.id, error: MoeError.from(e).toData() });
    }
  };

  const pump = (): void => {
    if (running !== undefined) return;
    const job = queue.shift();
    if (job === undefined) return;
    running = job;
    void run(job).finally(() => {
      running = undefined;
      pump();
    });
  };

  const cancel = (id: number): void => {
    if (running?.id === id) {
      running.controller.abort();
      return;
    }
    const i = queue.findIndex((j) => j.id === id);
    if (i < 0) return; // already answered: the host has stopped waiting anyway
    queue.splice(i, 1);
    post({ kind: 'error', id, error: new MoeError('E_CANCELLED', 'cancelled before it started').toData() });
  };

  const onMessage = (msg: HostToWorker): void => {
    switch (msg.kind) {
      case 'request':
        queue.push({ id: msg.id, method: msg.method, params: msg.params, controller: new AbortController() });
        pump();
        return;
      case 'cancel':
        cancel(msg.id);
        return;
      default: {
        const unknown: never = msg;
        // Logged, not thrown: a malformed message must not take the engine down.
        console.error('[engine worker] ignoring unknown message:', unknown);
      }
    }
  };

  // A stray promise inside the engine (not a request's own, those are awaited above) would otherwise
  // kill the thread and every request with it; logging it keeps the engine serving.
  const onUnhandledRejection = (reason: unknown): void => {
    console.error('[engine worker] unhandled rejection:', reason);
  };

  process.on('unhandledRejection', onUnhandledRejection);
  port.on('message', onMessage);
  post({ kind: 'ready' });

  return {
    dispose: () => {
      port.off('message', onMessage);
      process.off('unhandledRejection', onUnhandledRejection);
    },
  };
}
