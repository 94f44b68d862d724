// One engine worker's lifetime, from spawn to exit. Once the client stops it on purpose (or it has
// exited) the slot is closed and delivers no more events, so a stale worker can never settle requests
// that belong to its successor, and our own terminate() is never mistaken for a crash.
import { Worker } from 'node:worker_threads';
import type { HostToWorker, WorkerToHost } from '../protocol/engineProtocol';
import { startError } from './engineErrors';

export interface WorkerSpawnOptions {
  readonly workerPath: string;
  readonly workerData?: unknown;
  readonly execArgv?: string[];
}

export interface WorkerSlotEvents {
  message(msg: WorkerToHost): void;
  /** The worker ended without being asked to: a crash, an uncaught exception, out of memory, a failed start. */
  crash(exitCode: number, error: Error | undefined): void;
}

export class WorkerSlot {
  /** Set when the worker posts `ready`. */
  ready = false;
  /** Transparent reload of the last model into this fresh worker; requests are posted after it. */
  reload: Promise<void> | undefined;
  private readonly worker: Worker;
  private closed = false;
  /** The last 'error' event; reported with the 'exit' that always follows it. */
  private error: Error | undefined;

  /** Throws E_WORKER when the worker cannot even be constructed (e.g. invalid execArgv). */
  constructor(opts: WorkerSpawnOptions, events: WorkerSlotEvents) {
    try {
      this.worker = new Worker(opts.workerPath, { workerData: opts.workerData, execArgv: opts.execArgv });
    } catch (e) {
      throw startError(e);
    }
    // Every listener stays attached for the worker's whole life: an 'error' event without a listener
    // would be thrown into the host.
    this.worker.on('message', (msg: WorkerToHost) => {
      if (!this.closed) events.message(msg);
    });
    this.worker.on('error', (e) => {
      this.error = e;
    });
    this.worker.on('exit', (code) => {
      if (this.closed) return;
      this.closed = true;
      events.crash(code, this.error);
    });
  }

  /** Throws what postMessage throws (e.g. DataCloneError for params that cannot be cloned). */
  post(msg: HostToWorker): void {
    this.worker.postMessage(msg);
  }

  /** An idle worker should not keep a CLI process alive; a working one must. */
  keepProcessAlive(on: boolean): void {
    if (on) this.worker.ref();
    else this.worker.unref();
  }

  /** Stops the worker on purpose: no further events, so its exit is not reported as a crash. */
  terminate(): Promise<void> {
    this.closed = true;
    return this.worker.terminate().then(
      () => undefined,
      () => undefined,
    );
  }
}
