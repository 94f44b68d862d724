// The engine side of the protocol: a request queue in front of an EngineService. One request holds the
// engine at a time (it is not reentrant), except that a job lets waiting queries run when it pauses
// between its steps (RequestContext.pause). Kept apart from the entry file so the test suite can serve a
// scripted service through this exact loop.
import { QUEUED_STAGE, type EngineMethods, type HostToWorker, type Progress, type WorkerToHost } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import type { EngineService, RequestContext } from '../engineService';
import type { EnginePort } from './enginePort';
import { classOf, RequestQueue, type QueuedRequest } from './requestQueue';

interface Job extends QueuedRequest {
  readonly params: unknown;
  readonly controller: AbortController;
  /** Stop (end early, finish properly): RequestContext.finish. */
  readonly finisher: AbortController;
}

export interface EngineServer {
  /** Stops listening. Does not dispose the service: the caller owns it. */
  dispose(): void;
}

/** Answers HostToWorker messages on `port` with `service`. Posts `ready` once listening. */
/** Resolves in the event loop's check phase, i.e. after the poll phase has read what is waiting on the IPC channel. */
const readArrivedMessages = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function serveEngine(port: EnginePort, service: EngineService): EngineServer {
  const queue = new RequestQueue<Job>();
  /** The request holding the engine, and (while it pauses) the query running inside its pause. */
  const running: Job[] = [];

  // A failed post must still settle the request, or the host would wait forever: a result that cannot
  // be serialised becomes an error; a failure to post that error too is only logged.
  const post = (msg: WorkerToHost): void => {
    try {
      port.post(msg);
    } catch (e) {
      if (msg.kind === 'result') {
        post({ kind: 'error', id: msg.id, error: new MoeError('E_INTERNAL', `the engine result could not be sent: ${MoeError.from(e).message}`).toData() });
      } else {
        console.error('[engine] sending a message to the host failed:', e);
      }
    }
  };

  /** A job's pause: waiting queries run. A cancelled job does not pause: it goes on to stop and clean up first. */
  const pauseFor = async (job: Job): Promise<void> => {
    // ONNX Runtime runs synchronously on this thread, so messages that arrived during the last step are
    // still unread: let the event loop read them (and a cancel land) before looking at the queue.
    await readArrivedMessages();
    while (!job.controller.signal.aborted) {
      const q = queue.takeQuery();
      if (q === undefined) return;
      await run(q);
    }
  };

  const run = async (job: Job): Promise<void> => {
    running.push(job);
    let settled = false;
    const ctx: RequestContext = {
      signal: job.controller.signal,
      finish: job.finisher.signal,
      progress: (p: Progress) => {
        // Progress after the answer would arrive at the host for an id it no longer knows.
        if (!settled) post({ kind: 'progress', id: job.id, progress: p });
      },
      pause: classOf(job) === 'job' ? () => pauseFor(job) : async () => undefined,
    };
    try {
      const result = await service.handle(job.method, job.params as EngineMethods[typeof job.method]['params'], ctx);
      settled = true;
      post({ kind: 'result', id: job.id, result });
    } catch (e) {
      settled = true;
      post({ kind: 'error', id: job.id, error: MoeError.from(e).toData() });
    } finally {
      running.splice(running.indexOf(job), 1);
    }
  };

  const pump = (): void => {
    if (running.length > 0) return;
    const job = queue.takeNext();
    if (job === undefined) return;
    // The next request is chosen only after the messages that arrived during this one are read, or an
    // interactive query sent meanwhile would wait behind every background request queued before it.
    void run(job).finally(() => setImmediate(pump));
  };

  /** Tells the host why a request did not start at once (the status bar shows it). */
  const sayQueued = (job: Job): void => {
    const holder = running[0];
    if (holder === undefined) return;
    const why =
      classOf(holder) === 'job' && classOf(job) === 'query'
        ? `waiting for ${holder.method} to finish its current step`
        : classOf(holder) === 'model'
          ? `waiting for the model to ${holder.method === 'load' ? 'load' : 'unload'}`
          : `waiting for ${holder.method}`;
    post({ kind: 'progress', id: job.id, progress: { stage: QUEUED_STAGE, done: 0, total: 0, message: why } });
  };

  const cancel = (id: number): void => {
    const active = running.find((j) => j.id === id);
    if (active) {
      active.controller.abort();
      return;
    }
    if (queue.remove(id) === undefined) return; // already answered: the host has stopped waiting anyway
    post({ kind: 'error', id, error: new MoeError('E_CANCELLED', 'cancelled before it started').toData() });
  };

  /**
   * Stop: the job ends after its current step and answers normally. A request still queued is marked the
   * same way, so it starts with its finish signal already aborted (a finetune then refuses, having trained
   * nothing); a request that does not look at the signal runs as usual. An unknown id is ignored.
   */
  const stop = (id: number): void => {
    const job = running.find((j) => j.id === id) ?? queue.find(id);
    job?.finisher.abort();
  };

  const onMessage = (msg: HostToWorker): void => {
    switch (msg.kind) {
      case 'request': {
        const job: Job = { id: msg.id, method: msg.method, params: msg.params, priority: msg.priority ?? 'interactive', controller: new AbortController(), finisher: new AbortController() };
        if (msg.stopped) job.finisher.abort();
        queue.push(job);
        if (running.length > 0) sayQueued(job);
        pump();
        return;
      }
      case 'cancel':
        cancel(msg.id);
        return;
      case 'stop':
        stop(msg.id);
        return;
      default: {
        const unknown: never = msg;
        // Logged, not thrown: a malformed message must not take the engine down.
        console.error('[engine] ignoring unknown message:', unknown);
      }
    }
  };

  // A stray promise inside the engine (not a request's own, those are awaited above) would otherwise
  // end the process and every request with it; logging it keeps the engine serving.
  const onUnhandledRejection = (reason: unknown): void => {
    console.error('[engine] unhandled rejection:', reason);
  };

  process.on('unhandledRejection', onUnhandledRejection);
  const stopListening = port.onMessage(onMessage);
  post({ kind: 'ready' });

  return {
    dispose: () => {
      stopListening();
      process.off('unhandledRejection', onUnhandledRejection);
    },
  };
}
