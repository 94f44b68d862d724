// Partial outputs this process is writing right now (staging folders, atomic temp files), removed
// synchronously when the process is told to stop, so Ctrl-C or SIGTERM never leaves them behind. What a
// SIGKILL or power loss leaves is the job of staleStaging.ts on the next write beside it.
import * as fs from 'node:fs';
import * as os from 'node:os';

const live = new Set<string>();

/** Registers `p` as a partial output of this process; the returned function unregisters it (after commit or discard). */
export function trackPartial(p: string): () => void {
  live.add(p);
  return () => {
    live.delete(p);
  };
}

/** Removes every registered partial output now. Synchronous, so it can run in 'exit' and signal handlers. Never throws. */
export function removeTrackedPartialsSync(): string[] {
  const removed: string[] = [];
  for (const p of live) {
    try {
      fs.rmSync(p, { recursive: true, force: true, maxRetries: 3 });
      removed.push(p);
    } catch {
      // Best effort: whatever stays is recognised as stale by the next write beside it.
    }
  }
  live.clear();
  return removed;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/**
 * For the process the engine runs in (a child process of the CLI or the extension host): on SIGINT, SIGTERM
 * or SIGHUP removes the partial outputs and exits with 128 + the signal number (130, 143, 129), as a process
 * killed by the signal would; on any other exit removes them too. A terminal's Ctrl-C reaches the engine
 * process as well as the CLI (same process group), so the engine must not rely on the CLI to clean up.
 * Idempotent. In a worker thread signals are not delivered, and only the 'exit' part has an effect.
 */
export function installStagingCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    removeTrackedPartialsSync();
  });
  for (const sig of STOP_SIGNALS) {
    process.on(sig, () => {
      removeTrackedPartialsSync();
      process.exit(128 + (os.constants.signals[sig] ?? 0));
    });
  }
}
