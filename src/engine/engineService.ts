// The engine as the worker sees it: one method per protocol request. Lives inside the worker thread.
import type { EngineMethod, EngineMethods, Progress } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';

/** Per-request context: cancellation and progress reporting. */
export interface RequestContext {
  /** Aborted when the host cancels the request. Long work checks it between steps. */
  readonly signal: AbortSignal;
  /**
   * Aborted when the host asks the request to end early but finish properly (Stop, as opposed to Cancel):
   * a job that supports it ends after the step in progress and completes normally, writing its output
   * (finetune: the model trained so far). Jobs that do not support it ignore it. Absent: never stopped.
   */
  readonly finish?: AbortSignal;
  progress(p: Progress): void;
  /**
   * A job calls this between its steps: queries that arrived meanwhile (annotations of the text the
   * person is editing) run now, then the job resumes. Resolves at once when nothing waits.
   */
  pause(): Promise<void>;
}

export interface EngineService {
  handle<M extends EngineMethod>(method: M, params: EngineMethods[M]['params'], ctx: RequestContext): Promise<EngineMethods[M]['result']>;
  dispose(): Promise<void>;
}

/** Throws E_CANCELLED if the request was cancelled. */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new MoeError('E_CANCELLED', 'cancelled');
}

/** What the host passes to a new engine process. */
export interface EngineWorkerData {
  /** ONNX Runtime intra-op threads. The extension leaves a core to the extension host; the CLI uses all. */
  readonly threads?: number;
  /**
   * The host takes a terminal's Ctrl-C itself (the CLI's finetune: the first is a Stop that lets the job
   * finish and write): the SIGINT that reaches this process too (same process group) is ignored. The host
   * relays Stop and Cancel as messages; if it goes away, the engine exits on the disconnect and removes its
   * partial outputs on exit.
   */
  readonly hostHandlesInterrupt?: boolean;
}
