// One e2e file's session: a fresh temp workspace (filled by `prepare`), a private code-server with the
// packaged extension, and its workbench in headless Chromium, started by a before() hook; an after() hook
// that, whatever happened, saves a screenshot of a failed run and code-server's logs to test-artifacts/e2e/,
// stops everything and removes the workspace. `step` is an `it` that screenshots the page when it fails;
// `waitFor` and the dialog answers are the Workbench's and dialogs.ts's, bound to this session's workbench.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, it } from 'node:test';
import { openWorkbench, startCodeServer, type CodeServer, type CodeServerOptions, type Workbench } from './codeServer';
import { answerFolderDialog, answerInput, inputBoxValue, pickItem } from './dialogs';
import { artifactsDir, vsixPath } from './paths';

export interface E2eSessionOptions {
  /** Names the artifacts: `<name>-failure.png`, `<name>-failure-<step>.png`, `<name>-logs/`. */
  name: string;
  /** The temp workspace's folder name starts with this (in os.tmpdir()). */
  workspacePrefix: string;
  /** Fills the (empty) workspace before code-server opens it; throws to fail the file's tests. */
  prepare?: (workspace: string) => Promise<void>;
  /** User settings over codeServer.ts's quiet defaults. */
  settings?: CodeServerOptions['settings'];
  /** Open the workspace in Restricted Mode (codeServer.ts's workspaceTrust). */
  workspaceTrust?: boolean;
  /** Gets the start-up phases' durations: codeServerStartMs, browserLaunchMs, workbenchReadyMs. */
  timings?: Record<string, number>;
  /** How long an answered input box or quick pick may take to go (default: Workbench.waitForQuickInputGone's). */
  dialogGoneMs?: number;
}

export interface E2eSession {
  /** The session's workbench; using it before the before() hook has opened it throws. */
  readonly wb: Workbench;
  /** The temp workspace folder code-server opens (created by the before() hook). */
  readonly workspace: string;
  /** A test step; on failure a screenshot `<name>-failure-<step>.png`, and the after() hook takes one more. */
  step(name: string, f: () => Promise<void>): Promise<void>;
  /** Workbench.waitFor: polls `probe` until it gives a value (60 s unless said). */
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /** Answers the input box whose title contains `part` with `value` (or its default). */
  answerInput(part: string, value?: string): Promise<void>;
  /** Picks `label` in the quick pick whose title contains `part`. */
  pick(part: string, label: string): Promise<void>;
  /** The value in the open quick input's box. */
  boxValue(): Promise<string>;
  /** Types `dir` into code-server's file dialog and presses its first button. */
  answerFolderDialog(dir: string): Promise<void>;
}

/** Registers the session's hooks in the calling describe() and returns its handles. */
export function e2eSession(options: E2eSessionOptions): E2eSession {
  const workspace = path.join(os.tmpdir(), `${options.workspacePrefix}${randomBytes(4).toString('hex')}`);
  let server: CodeServer | undefined;
  let opened: Workbench | undefined;
  let failed = false;

  const open = (): Workbench => {
    if (!opened) throw new Error(`e2e ${options.name}: the workbench is used before the session's before() hook has opened it`);
    return opened;
  };
  // A stand-in that forwards to the workbench once before() has opened it, so that tests hold `wb` from the start.
  const wb = new Proxy({} as Workbench, {
    get: (_, key) => {
      const target = open();
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const timed = async <T>(phase: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      if (options.timings) options.timings[phase] = Math.round(performance.now() - t0);
    }
  };

  before(async () => {
    try {
      await fs.mkdir(workspace, { mode: 0o700 });
      await options.prepare?.(workspace);
      const s = (server = await timed('codeServerStartMs', () =>
        startCodeServer({ workspace, vsix: vsixPath, settings: options.settings, workspaceTrust: options.workspaceTrust }),
      ));
      const w = (opened = await timed('browserLaunchMs', () => openWorkbench(s.url)));
      await timed('workbenchReadyMs', () => w.waitReady());
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  after(async () => {
    await fs.mkdir(artifactsDir, { recursive: true });
    if (failed) await opened?.screenshot(path.join(artifactsDir, `${options.name}-failure.png`)).catch(() => undefined);
    await opened?.close();
    await server?.saveLogs(path.join(artifactsDir, `${options.name}-logs`)).catch(() => undefined);
    await server?.stop();
    await fs.rm(workspace, { recursive: true, force: true });
  });

  return {
    wb,
    workspace,
    step: (name, f) =>
      it(name, async () => {
        try {
          await f();
        } catch (e) {
          failed = true;
          await opened?.screenshot(path.join(artifactsDir, `${options.name}-failure-${name.slice(0, 24).replace(/\W+/g, '-')}.png`)).catch(() => undefined);
          throw e;
        }
      }),
    waitFor: (what, probe, timeoutMs = 60_000) => open().waitFor(what, probe, timeoutMs),
    answerInput: (part, value) => answerInput(open(), part, value, options.dialogGoneMs),
    pick: (part, label) => pickItem(open(), part, label, options.dialogGoneMs),
    boxValue: () => inputBoxValue(open()),
    answerFolderDialog: (dir) => answerFolderDialog(open(), dir),
  };
}
