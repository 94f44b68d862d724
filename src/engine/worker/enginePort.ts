// The engine's end of the host connection. The engine runs in a child process (so that nothing it does —
// a native abort inside onnxruntime, an out-of-memory kill, a terminated run — can take the extension
// host down), and talks to the host over the process's IPC channel with V8 serialisation, which carries
// typed arrays as typed arrays.
import type { HostToWorker, WorkerToHost } from '../../protocol/engineProtocol';

export interface EnginePort {
  /** Throws when the message cannot be serialised; a closed channel is not an error (the host is gone). */
  post(msg: WorkerToHost): void;
  onMessage(listener: (msg: HostToWorker) => void): () => void;
}

/** The IPC channel of a process started with `child_process.fork(..., { serialization: 'advanced' })`. */
export function processPort(proc: NodeJS.Process = process): EnginePort {
  const send = proc.send?.bind(proc);
  if (send === undefined) throw new Error('the engine must be started by the host (child_process.fork with an IPC channel)');
  return {
    post: (msg) => {
      if (proc.connected) send(msg, undefined, undefined, ignoreClosedChannel);
    },
    onMessage: (listener) => {
      const l = (m: unknown): void => listener(m as HostToWorker);
      proc.on('message', l);
      return () => proc.off('message', l);
    },
  };
}

/** The host went away between the check and the write: nothing is waiting for this answer any more. */
function ignoreClosedChannel(): void {}
