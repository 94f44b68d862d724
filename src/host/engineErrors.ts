// The errors the client itself raises, worded for the person reading them in a notification or a
// terminal: what happened, whether the request ran, and what happens next.
import type { EngineMethod } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';
import type { EngineExit } from './engineProcess';

export const disposedError = (): MoeError => new MoeError('E_CANCELLED', 'engine client disposed');

export const cancelledError = (method: EngineMethod): MoeError => new MoeError('E_CANCELLED', `engine request "${method}" was cancelled`);

export const timeoutError = (method: EngineMethod, ms: number): MoeError => new MoeError('E_TIMEOUT', `engine request "${method}" timed out after ${ms} ms`);

export const killedError = (reason?: string): MoeError =>
  new MoeError('E_CANCELLED', `the engine was stopped${reason ? ` (${reason})` : ''}; the request was not completed.`);

export const startError = (e: unknown): MoeError => new MoeError('E_WORKER', `the engine process could not start: ${MoeError.from(e).message}`);

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

export function crashError(exit: EngineExit, lastOutput: string, budget: CrashBudgetView): MoeError {
  const next = budget.exhausted
    ? `The engine has crashed ${budget.recent} times within a minute, so it will not be restarted automatically for ${Math.ceil(budget.retryInMs / 1000)} s.`
    : 'The next request starts a fresh engine.';
  const how = exit.signal !== null ? `was killed by ${exit.signal}${exit.signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${exit.code}`;
  const said = lastLine(lastOutput);
  return new MoeError('E_WORKER', `the engine process stopped unexpectedly: it ${how}${said ? ` after printing "${said}"` : ''}; the request was not completed. ${next}`);
}

/** The line of the engine's last output that names the fault: its last error line, else its last line. */
function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^at |^Node\.js v\d/.test(l));
  const line = [...lines].reverse().find((l) => /^(\w*Error\b|terminate called|FATAL|\[engine\])/.test(l)) ?? lines.at(-1) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

export const restartCapError = (budget: CrashBudgetView): MoeError =>
  new MoeError(
    'E_WORKER',
    `the engine process crashed ${budget.recent} times within a minute, more than the ${budget.max} automatic restarts allowed; it will not be restarted for another ${Math.ceil(budget.retryInMs / 1000)} s.`,
  );
