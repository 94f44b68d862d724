// Ctrl-C, SIGTERM and SIGHUP in the CLI: the running request is cancelled, the engine client disposed, what
// the interrupted write left is removed, and the process exits 128 + the signal's number (130, 143, 129) as
// shells and supervisors expect. The engine process cleans up after itself too (stagingCleanup.ts), but it
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
  /** Aborted at the first stop signal. */
  readonly signal: AbortSignal;
  /** The first stop signal received, if any. */
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

/** Installs the handlers; `outputs()` names the output paths of the command being run. */
export function trapStopSignals(outputs: () => readonly string[]): StopSignals {
  const abort = new AbortController();
  let first: StopSignal | undefined;
  const exitNow = (sig: StopSignal): never => {
    for (const p of cleanUp(outputs())) process.stderr.write(`removed the partial output ${p}\n`);
    process.exit(exitCodeOf(sig));
  };
  for (const sig of SIGNALS) {
    process.on(sig, () => {
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
    received: () => first,
    exitIfStopped: () => {
      if (first !== undefined) exitNow(first);
    },
  };
}
