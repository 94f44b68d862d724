// The host side of the engine protocol: starts the engine process on demand and turns its messages into
// promises. No `vscode` import: the CLI uses it too. Every request settles exactly once; an engine that
// dies takes its pending requests down with a clear error, and the next request starts a fresh one.
import type { EngineMethod, EngineMethods, Progress, RequestPriority, WorkerToHost } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';
import { cancelledError, crashError, disposedError, killedError, reloadError, restartCapError, sendError, timeoutError, type CrashBudgetView } from './engineErrors';
import { RestartBudget } from './restartBudget';
import { EngineProcess, type EngineExit, type EngineSpawnOptions } from './engineProcess';

export interface EngineClientOptions extends EngineSpawnOptions {
  /** Default timeout per request; none by default (a large model can take minutes to load). */
  requestTimeoutMs?: number;
  /** Stop the engine process after this long with nothing pending (frees the model's memory); 0 = never. */
  idleShutdownMs?: number;
  /** Crash restarts allowed within a minute, default 3. */
  maxRestarts?: number;
  onStateChange?: (s: EngineState) => void;
}

export type EngineState = 'stopped' | 'starting' | 'idle' | 'busy' | 'crashed';

export interface RequestOptions {
  signal?: AbortSignal;
  /**
   * Stop rather than cancel: when it aborts, the engine is asked to end the job early but finish it properly
   * (RequestContext.finish; a finetune writes the model trained so far). The request is not rejected: its
   * result arrives as usual. Jobs that do not support it ignore it.
   */
  finish?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Overrides EngineClientOptions.requestTimeoutMs for this request; 0 = none. */
  timeoutMs?: number;
  /** Queries only: `background` lets interactive queries (the visible text) go first. Default interactive. */
  priority?: RequestPriority;
}

type LoadParams = EngineMethods['load']['params'];

interface Pending {
  readonly method: EngineMethod;
  readonly params: unknown;
  readonly priority: RequestPriority | undefined;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: MoeError) => void;
  readonly onProgress?: (p: Progress) => void;
  /** Clears the request's timer and abort listener. */
  readonly release: () => void;
  readonly finish: AbortSignal | undefined;
  /** Whether the engine has been sent the request (only then is a cancel worth sending). */
  posted: boolean;
}

export class EngineClient {
  private current: EngineProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private lastLoad: LoadParams | undefined;
  private readonly budget: RestartBudget;
  private crashed = false;
  private disposed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastState: EngineState = 'stopped';

  constructor(private readonly opts: EngineClientOptions) {
    this.budget = new RestartBudget(opts.maxRestarts ?? 3);
  }

  get state(): EngineState {
    return this.lastState;
  }

  request<M extends EngineMethod>(method: M, params: EngineMethods[M]['params'], opts: RequestOptions = {}): Promise<EngineMethods[M]['result']> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.disposed) return reject(disposedError());
      if (opts.signal?.aborted) return reject(cancelledError(method));
      let slot: EngineProcess;
      try {
        slot = this.ensureWorker(method);
      } catch (e) {
        return reject(MoeError.from(e));
      }
      this.enqueue(slot, method, params, opts, resolve, reject);
    }) as Promise<EngineMethods[M]['result']>;
  }

  /** Hard stop: stops the engine process now and rejects every pending request. The next request starts a fresh engine. */
  kill(reason?: string): void {
    void this.teardown(killedError(reason));
  }

  /** Rejects pending requests, stops the engine process, and makes later requests reject. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.teardown(disposedError());
  }

  private ensureWorker(method: EngineMethod): EngineProcess {
    if (this.current) return this.current;
    if (this.crashed && this.budget.exhausted) throw restartCapError(this.budgetView());
    const slot: EngineProcess = new EngineProcess(this.opts, {
      message: (msg) => this.onMessage(slot, msg),
      crash: (exit, lastOutput) => this.onCrash(exit, lastOutput),
    });
    this.current = slot;
    this.crashed = false;
    // A load or unload replaces whatever was loaded, so restoring the old model first would be wasted work.
    const restore = this.lastLoad;
    if (restore !== undefined && method !== 'load' && method !== 'unload') slot.reload = this.reloadInto(slot, restore);
    return slot;
  }

  private reloadInto(slot: EngineProcess, params: LoadParams): Promise<void> {
    const reload = new Promise<unknown>((resolve, reject) => this.enqueue(slot, 'load', params, {}, resolve, reject)).then(
      () => undefined,
      (e: MoeError) => {
        // Requests already waiting fail with this error; later ones go straight to the engine, which
        // answers them without a model.
        slot.reload = undefined;
        // The engine refused the model (e.g. its folder is gone): stop trying it on every restart. A
        // crash, kill or dispose says nothing about the model, so it is kept for the next engine.
        if (e.code !== 'E_WORKER' && e.code !== 'E_CANCELLED' && this.lastLoad === params) this.lastLoad = undefined;
        throw reloadError(e);
      },
    );
    reload.catch(() => undefined); // observed by the requests waiting on it; this keeps it from being "unhandled"
    return reload;
  }

  private enqueue(slot: EngineProcess, method: EngineMethod, params: unknown, opts: RequestOptions, resolve: (v: unknown) => void, reject: (e: MoeError) => void): void {
    const id = this.nextId++;
    const { signal, onProgress } = opts;
    const timeoutMs = opts.timeoutMs ?? this.opts.requestTimeoutMs ?? 0;
    const timer = timeoutMs > 0 ? setTimeout(() => this.abandon(id, timeoutError(method, timeoutMs)), timeoutMs) : undefined;
    timer?.unref();
    const onAbort = (): void => this.abandon(id, cancelledError(method));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = opts.finish;
    const onFinish = (): void => this.sendStop(id);
    finish?.addEventListener('abort', onFinish, { once: true });
    const release = (): void => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      finish?.removeEventListener('abort', onFinish);
    };
    this.pending.set(id, { method, params, priority: opts.priority, resolve, reject, onProgress, release, finish, posted: false });
    if (slot.reload) {
      slot.reload.then(
        () => this.post(slot, id),
        (e: MoeError) => this.settle(id, e),
      );
    } else {
      this.post(slot, id);
    }
    this.refresh();
  }

  private post(slot: EngineProcess, id: number): void {
    const p = this.pending.get(id);
    // Settled while waiting for the reload (cancelled, timed out, engine gone): nothing to send.
    if (p === undefined || this.current !== slot) return;
    try {
      // Stopped before it could be sent (already, or while the model reloaded): it starts stopped.
      slot.post({ kind: 'request', id, method: p.method, params: p.params, ...(p.priority ? { priority: p.priority } : {}), ...(p.finish?.aborted ? { stopped: true } : {}) });
      p.posted = true;
    } catch (e) {
      this.settle(id, sendError(e));
    }
  }

  /** Asks the engine to end the request early but finish it; nothing to do until it has been sent. */
  private sendStop(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined || !p.posted || !this.current) return;
    try {
      this.current.post({ kind: 'stop', id });
    } catch {
      // The engine is going away; its exit handler settles the request.
    }
  }

  /** Settles a request on the caller's side and tells the engine to skip or stop it. */
  private abandon(id: number, error: MoeError): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.settle(id, error);
    if (p.posted && this.current) {
      try {
        this.current.post({ kind: 'cancel', id });
      } catch {
        // The engine is going away; its exit handler deals with it.
      }
    }
  }

  /** The one place a request settles: deleting it from `pending` first makes a second settle a no-op. */
  private settle(id: number, outcome: MoeError | { value: unknown }): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    p.release();
    if (outcome instanceof MoeError) p.reject(outcome);
    else p.resolve(outcome.value);
    this.refresh();
  }

  private onMessage(slot: EngineProcess, msg: WorkerToHost): void {
    switch (msg.kind) {
      case 'ready':
        slot.ready = true;
        this.refresh();
        return;
      case 'progress': {
        const p = this.pending.get(msg.id);
        try {
          p?.onProgress?.(msg.progress);
        } catch {
          // A broken progress listener must not fail the request it reports on.
        }
        return;
      }
      case 'result': {
        const p = this.pending.get(msg.id);
        if (p?.method === 'load') this.lastLoad = p.params as LoadParams;
        else if (p?.method === 'unload') this.lastLoad = undefined;
        this.settle(msg.id, { value: msg.result });
        return;
      }
      case 'error':
        this.settle(msg.id, MoeError.fromData(msg.error));
        return;
      default: {
        const unknown: never = msg;
        void unknown; // a newer engine's message kind: nothing to do with it
      }
    }
  }

  private budgetView(): CrashBudgetView {
    return { recent: this.budget.recent, max: this.budget.maxRestarts, exhausted: this.budget.exhausted, retryInMs: this.budget.retryInMs() };
  }

  private onCrash(exit: EngineExit, lastOutput: string): void {
    this.current = undefined;
    this.budget.recordCrash();
    const error = crashError(exit, lastOutput, this.budgetView());
    this.crashed = true;
    for (const id of [...this.pending.keys()]) this.settle(id, error);
    this.refresh();
  }

  /** Stops the engine on purpose (kill, dispose, idle): its exit is then not a crash. */
  private teardown(error: MoeError): Promise<void> {
    const slot = this.current;
    this.current = undefined;
    this.crashed = false;
    for (const id of [...this.pending.keys()]) this.settle(id, error);
    this.refresh();
    return slot ? slot.terminate() : Promise.resolve();
  }

  /** Recomputes the state and, with nothing pending, arms the idle shutdown and lets the process exit. */
  private refresh(): void {
    const slot = this.current;
    const busy = this.pending.size > 0;
    const state: EngineState = slot === undefined ? (this.crashed ? 'crashed' : 'stopped') : !slot.ready ? 'starting' : busy ? 'busy' : 'idle';
    slot?.keepProcessAlive(busy);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const idleMs = this.opts.idleShutdownMs ?? 0;
    if (slot && !busy && idleMs > 0) {
      this.idleTimer = setTimeout(() => {
        if (this.current === slot && this.pending.size === 0) void this.teardown(disposedError()); // nothing is pending, so nothing sees this error
      }, idleMs);
      this.idleTimer.unref();
    }
    if (state !== this.lastState) {
      this.lastState = state;
      try {
        this.opts.onStateChange?.(state);
      } catch {
        // A listener's failure is its own; the client's bookkeeping must go on.
      }
    }
  }
}
