// One engine process's lifetime, from fork to exit. The engine runs in a child process, as language
// servers do, so that nothing it does — a native abort inside onnxruntime, the out-of-memory killer, a
// run stopped halfway — can take the extension host (or the CLI) down with it. Once the client stops it
// on purpose (or it has exited) the slot is closed and delivers no more events, so a stale process can
// never settle requests that belong to its successor, and our own stop is never mistaken for a crash.
import { fork, type ChildProcess } from 'node:child_process';
import { ENGINE_DATA_ENV } from '../protocol/engineLaunch';
import type { HostToWorker, WorkerToHost } from '../protocol/engineProtocol';
import { startError } from './engineErrors';

export interface EngineSpawnOptions {
  /** The engine's entry script (dist/engineWorker.js). */
  readonly workerPath: string;
  /** EngineWorkerData for the engine (JSON-serialisable). */
  readonly workerData?: unknown;
  /** Node options of the engine process; default none (the host's own, e.g. a test runner's loaders, are not inherited). */
  readonly execArgv?: string[];
  /** Extra environment variables for the engine process. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface EngineProcessEvents {
  message(msg: WorkerToHost): void;
  /** The process ended without being asked to: a crash, an abort, out of memory, a failed start. */
  crash(exit: EngineExit, lastOutput: string): void;
}

export interface EngineExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** How long a stopped engine gets to clean up (e.g. remove a half-written checkpoint) before it is killed. */
const STOP_GRACE_MS = 2000;
/** The tail of the engine's stderr kept to explain a crash. */
const TAIL_CHARS = 2000;

export class EngineProcess {
  /** Set when the engine posts `ready`. */
  ready = false;
  /** Transparent reload of the last model into this fresh engine; requests are posted after it. */
  reload: Promise<void> | undefined;
  private readonly child: ChildProcess;
  private closed = false;
  private exited: Promise<void>;
  private tail = '';

  /** Throws E_WORKER when the process cannot even be started. */
  constructor(opts: EngineSpawnOptions, events: EngineProcessEvents) {
    try {
      this.child = fork(opts.workerPath, [], {
        // --expose-gc: the engine collects a dropped model's buffers before it sizes the next one.
        execArgv: [...(opts.execArgv ?? []), '--expose-gc'],
        serialization: 'advanced',
        // stdout too goes to stderr: the CLI's stdout is its output (e.g. --json), never engine chatter.
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: {
          ...process.env,
          ...opts.env,
          // Inside VS Code, process.execPath is Electron: this makes it run the script as plain Node.
          ELECTRON_RUN_AS_NODE: '1',
          [ENGINE_DATA_ENV]: JSON.stringify(opts.workerData ?? {}),
        },
      });
    } catch (e) {
      throw startError(e);
    }
    const relay = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.tail = (this.tail + text).slice(-TAIL_CHARS);
      process.stderr.write(text);
    };
    this.child.stdout?.on('data', relay);
    this.child.stderr?.on('data', relay);
    // Every listener stays attached for the process's whole life: an 'error' event without a listener
    // would be thrown into the host.
    this.child.on('message', (msg: WorkerToHost) => {
      if (!this.closed) events.message(msg);
    });
    let spawnError: Error | undefined;
    this.child.on('error', (e) => {
      spawnError = e;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        resolve();
        if (this.closed) return;
        this.closed = true;
        events.crash({ code, signal }, spawnError ? `${spawnError.message}\n${this.tail}` : this.tail);
      });
    });
    this.keepProcessAlive(false);
  }

  /** Throws what serialisation throws (e.g. for params that cannot be cloned). */
  post(msg: HostToWorker): void {
    if (!this.child.connected) return; // exiting: its 'exit' settles what is pending
    // A send that fails because the channel closed under it needs no answer: 'exit' follows and settles it.
    this.child.send(msg, () => undefined);
  }

  /** An idle engine should not keep a CLI process alive; a working one must. */
  keepProcessAlive(on: boolean): void {
    const handles = [this.child, this.child.channel, this.child.stdout, this.child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[];
    for (const h of handles) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
  }

  /**
   * Stops the engine on purpose: no further events, so its exit is not reported as a crash. SIGTERM lets
   * it remove what it was writing; one that does not exit within the grace period (it may be inside a
   * native run, which cannot be interrupted) is killed.
   */
  terminate(): Promise<void> {
    this.closed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      // Whoever awaits the stop keeps the process alive until the engine has really gone.
      this.keepProcessAlive(true);
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
      timer.unref();
      void this.exited.then(() => clearTimeout(timer));
    }
    return this.exited;
  }
}
