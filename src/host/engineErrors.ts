// The errors the client itself raises, worded for the person reading them in a notification or a
// terminal: what happened, whether the request ran, and what happens next.
import type { EngineMethod } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';

export const disposedError = (): MoeError => new MoeError('E_CANCELLED', 'engine client disposed');

export const cancelledError = (method: EngineMethod): MoeError => new MoeError('E_CANCELLED', `engine request "${method}" was cancelled`);

export const timeoutError = (method: EngineMethod, ms: number): MoeError => new MoeError('E_TIMEOUT', `engine request "${method}" timed out after ${ms} ms`);

export const killedError = (reason?: string): MoeError =>
  new MoeError('E_CANCELLED', `the engine was stopped${reason ? ` (${reason})` : ''}; the request was not completed.`);

export const startError = (e: unknown): MoeError => new MoeError('E_WORKER', `the engine worker could not start: ${MoeError.from(e).message}`);

export const sendError = (e: unknown): MoeError => new MoeError('E_INTERNAL', `could not send the request to the engine: ${MoeError.from(e).message}`);

/** Keeps the reload's code and file (e.g. E_MODEL_DIR and the folder) and says why a load ran at all. */
export const reloadError = (e: MoeError): MoeError => new MoeError(e.code, `reloading the model after the engine restarted failed: ${e.message}`, e.file);

export interface CrashBudgetView {
  /** Crashes within the last minute. */
  readonly recent: number;
  readonly max: number;
  readonly exhausted: boolean;
  readonly retryInMs: number;
}

export function crashError(code: number, cause: Error | undefined, budget: CrashBudgetView): MoeError {
  const next = budget.exhausted
    ? `The engine has crashed ${budget.recent} times within a minute, so it will not be restarted automatically for ${Math.ceil(budget.retryInMs / 1000)} s.`
    : 'The next request starts a fresh engine.';
  return new MoeError('E_WORKER', `the engine worker stopped unexpectedly (exit code ${code})${cause ? `: ${cause.message}` : ''}; the request was not completed. ${next}`);
}

export const restartCapError = (budget: CrashBudgetView): MoeError =>
  new MoeError(
    'E_WORKER',
    `the engine worker crashed ${budget.recent} times within a minute, more than the ${budget.max} automatic restarts allowed; it will not be restarted for another ${Math.ceil(budget.retryInMs / 1000)} s.`,
  );
