// Ctrl-C, SIGTERM and SIGHUP in the CLI: the running request is cancelled, the engine client disposed, what
// the interrupted write left is removed, and the process exits 128 + the signal's number (130, 143, 129) as
// shells and supervisors expect. A command that can stop early and still finish (finetune: Stop keeps what
// was trained) takes the first Ctrl-C as that Stop — it then ends normally — and the second as the cancel. The engine process cleans up after itself too (stagingCleanup.ts), but it
// may be a worker thread of this process, or a child that only this process was signalled about.
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleStaging } from '../engine/surgery/staleStaging';
import { removeTrackedPartialsSync } from '../engine/surgery/stagingCleanup';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof SIGNALS)[number];
/** How long the orderly stop may take before the CLI cleans up and exits anyway. */
const GRACE_MS = 20_000;

export interface StopSignals {
  /** Aborted at the first stop signal (with `stopFirst`: the first that cancels). */
  readonly signal: AbortSignal;
  /** With `stopFirst`: aborted at the first Ctrl-C, which asks the command to finish early (RequestOptions.finish). */
  readonly finish: AbortSignal;
  /** The first signal that cancelled, if any (a Stop that lets the command finish is not one). */
  readonly received: () => StopSignal | undefined;
  /**
   * After the engine client is disposed: removes the partial outputs this process and its engine wrote
   * beside the command's outputs, and exits with the signal's code. Returns (does nothing) when no signal came.
   */
  readonly exitIfStopped: () => void;
}

export function exitCodeOf(sig: StopSignal): number {
  return 128 + (os.constants.signals[sig] ?? 0);
}

function cleanUp(outputs: readonly string[]): string[] {
  const removed = removeTrackedPartialsSync();
  // Our engine is gone by now, so its staging folders are ours to remove whether it ran as a worker thread
  // (same pid) or a child process (our pid as its parent).
  for (const out of outputs) removed.push(...removeStaleStaging(path.dirname(path.resolve(out)), { ownedBy: process.pid }));
  return removed;
}

export interface StopSignalOptions {
  /** The first Ctrl-C is a Stop (not a cancel); this prints what it does. SIGTERM and SIGHUP still cancel. */
  readonly stopFirst?: () => string;
}

/** Installs the handlers; `outputs()` names the output paths of the command being run. */
export function trapStopSignals(outputs: () => readonly string[], opts: StopSignalOptions = {}): StopSignals {
  const abort = new AbortController();
  const finish = new AbortController();
  let first: StopSignal | undefined;
  const exitNow = (sig: StopSignal): never => {
    for (const p of cleanUp(outputs())) process.stderr.write(`removed the partial output ${p}\n`);
    process.exit(exitCodeOf(sig));
  };
  for (const sig of SIGNALS) {
    process.on(sig, () => {
      if (opts.stopFirst && sig === 'SIGINT' && first === undefined && !finish.signal.aborted) {
        finish.abort();
        process.stderr.write(`\n${opts.stopFirst()}\n`);
        return;
      }
      // A second signal: the user does not want to wait for the orderly stop.
      if (first !== undefined) exitNow(first);
      first = sig;
      process.stderr.write(`\n${sig === 'SIGINT' ? 'interrupted' : `stopped by ${sig}`}: cancelling${sig === 'SIGINT' ? ' (Ctrl-C again to stop at once)' : ''}\n`);
      abort.abort();
      setTimeout(() => exitNow(sig), GRACE_MS).unref();
    });
  }
  return {
    signal: abort.signal,
    finish: finish.signal,
    received: () => first,
    exitIfStopped: () => {
      if (first !== undefined) exitNow(first);
    },
  };
}
