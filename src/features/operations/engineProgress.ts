// Long engine requests as a cancellable progress notification (its message is the engine's own: tokens,
// rate, ETA), and their errors as one clear message. Cancelling aborts the request in the worker; the
// engine removes anything half-written.
import * as vscode from 'vscode';
import type { Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import type { OutputLog } from '../log/outputLog';
import { progressMessage } from './operationInputs';

export interface EngineStep {
  readonly signal: AbortSignal;
  readonly onProgress: (p: Progress) => void;
}

/**
 * Runs `work` under a cancellable notification. `determinate`: the bar follows done/total (one stage);
 * otherwise only the message changes. Errors (and cancellation) are rethrown as MoeError.
 */
export function withEngineProgress<T>(title: string, work: (step: EngineStep) => Promise<T>, determinate = false): Promise<T> {
  return Promise.resolve(
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      let shown = 0;
      let lastReport = 0;
      const onProgress = (p: Progress): void => {
        const now = Date.now();
        const last = p.total > 0 && p.done >= p.total;
        if (now - lastReport < 100 && !last) return; // the engine may report per chunk; the UI needs less
        lastReport = now;
        const report: { message: string; increment?: number } = { message: progressMessage(p, title) };
        if (determinate && p.total > 0) {
          const pct = Math.min(100, (100 * p.done) / p.total);
          if (pct > shown) {
            report.increment = pct - shown;
            shown = pct;
          }
        }
        progress.report(report);
      };
      try {
        return await work({ signal: abort.signal, onProgress });
      } catch (e) {
        throw abort.signal.aborted ? new MoeError('E_CANCELLED', MoeError.from(e).message) : MoeError.from(e);
      } finally {
        sub.dispose();
      }
    }),
  );
}

/** Shows an operation's error (and logs it): a cancellation as information, anything else as an error with its message. */
export function showOperationError(what: string, e: unknown, log?: OutputLog): void {
  const err = MoeError.from(e);
  if (err.code === 'E_CANCELLED') {
    log?.cancelled(what);
    void vscode.window.showInformationMessage(`MoE Workbench: ${what} was cancelled; nothing was written.`);
    return;
  }
  log?.failed(what, err.code, err.message);
  void vscode.window.showErrorMessage(`MoE Workbench: ${what} failed: ${err.message}`);
}
