// Which model is open, loading it into the engine process, and the recent-models list. With no model
// configured, the bundled demo model is used. A model that fails to load never costs the one that worked:
// the previous model stays (reloaded if the engine dropped it). In Restricted Mode a workspace's
// moeWorkbench.modelPath is held back until the workspace is trusted (see trustedModelPath.ts).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineClient } from '../../host/engineClient';
import type { ModelInfo } from '../../protocol/modelInfo';
import { MoeError } from '../../protocol/moeError';
import { Commands, Settings } from '../ids';
import { memoryBudgetSetting } from './memoryBudgetSetting';
import { heldBackWorkspaceModelPath, modelPathSetting } from './trustedModelPath';

export type ModelState =
  | { readonly kind: 'none' }
  | { readonly kind: 'loading'; readonly dir: string }
  /** `failedLoad`: this model was kept because loading another one failed (with that error). */
  | { readonly kind: 'ready'; readonly dir: string; readonly info: ModelInfo; readonly failedLoad?: { readonly dir: string; readonly message: string } }
  | { readonly kind: 'error'; readonly dir: string; readonly message: string };

type Ready = Extract<ModelState, { kind: 'ready' }>;

const RECENT_KEY = 'moeWorkbench.recentModels';
const MAX_RECENT = 8;

export class ModelManager implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ModelState>();
  readonly onDidChange = this.emitter.event;
  private _state: ModelState = { kind: 'none' };
  private loading: { readonly dir: string; readonly promise: Promise<ModelInfo> } | undefined;
  /** The model kept while another loads, for when that load fails. */
  private fallback: Ready | undefined;
  /** Set by "Close Model": stay closed until a model is opened again. */
  private closed = false;
  /** The current model was picked by the user (Open Model…), not taken from the configuration. */
  private explicit = false;
  private toldRestricted = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly engine: EngineClient,
    private readonly memento: vscode.Memento,
    private readonly demoModelDir: string,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${Settings.section}.${Settings.modelPath}`)) this.loadConfigured();
        // A new budget can change how the model is held (resident, cached, streaming): load it again under it.
        else if (e.affectsConfiguration(`${Settings.section}.${Settings.memoryBudget}`) && this._state.kind === 'ready') void this.load(this._state.dir, this.explicit, true).catch(() => undefined);
      }),
      // Trust unlocks the workspace's model path; a model the user picked explicitly stays.
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (!this.explicit) this.loadConfigured();
      }),
    );
  }

  get state(): ModelState {
    return this._state;
  }

  get info(): ModelInfo | undefined {
    return this._state.kind === 'ready' ? this._state.info : undefined;
  }

  get recent(): readonly string[] {
    return this.memento.get<string[]>(RECENT_KEY, []);
  }

  /** The configured model folder (the user's only, in Restricted Mode), or the bundled demo model. */
  configuredDir(): string {
    const p = modelPathSetting();
    if (!p) return this.demoModelDir;
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return path.isAbsolute(p) || !root ? p : path.join(root, p);
  }

  /** The loaded model, loading the configured one on first use. Undefined after "Close Model". */
  async ensureLoaded(): Promise<ModelInfo | undefined> {
    if (this.closed) return undefined;
    if (this.loading) return this.loading.promise.then((i) => i, () => this.info);
    if (this._state.kind === 'ready') return this._state.info;
    if (this._state.kind === 'error') return undefined;
    return this.load(this.configuredDir(), false);
  }

  /** Loads a model folder the user chose, replacing the current one once it has loaded. Errors are shown and rethrown. */
  async open(dir: string): Promise<ModelInfo> {
    this.closed = false;
    return this.load(dir, true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.loading = undefined;
    this.fallback = undefined;
    this.setState({ kind: 'none' });
    await this.engine.request('unload', {}).catch(() => undefined);
  }

  private loadConfigured(): void {
    this.closed = false;
    void this.load(this.configuredDir(), false).catch(() => undefined);
  }

  private load(dir: string, explicit: boolean, reload = false): Promise<ModelInfo> {
    if (this.loading?.dir === dir && !reload) return this.loading.promise;
    if (!explicit && !reload && !this.loading && this._state.kind === 'ready' && this._state.dir === dir) return Promise.resolve(this._state.info);
    // What to fall back to: the model that works now, or the one the interrupted load was keeping.
    const previous = this._state.kind === 'ready' ? this._state : this.loading ? this.fallback : undefined;
    this.fallback = previous;
    this.setState({ kind: 'loading', dir });
    const promise: Promise<ModelInfo> = Promise.resolve(
      vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Loading ${path.basename(dir)}` }, async (progress) =>
        this.engine.request('load', loadParams(dir), { onProgress: (pr) => progress.report({ message: `${pr.done}/${pr.total}` }) }),
      ),
    ).then(
      (loaded) => {
        if (this.loading?.promise !== promise) return loaded;
        this.loading = undefined;
        this.fallback = undefined;
        this.explicit = explicit;
        const info = explicit ? loaded : this.noteRestricted(loaded);
        this.setState({ kind: 'ready', dir, info });
        if (dir !== this.demoModelDir) void this.remember(dir);
        return info;
      },
      async (e: unknown) => {
        const err = MoeError.from(e);
        if (this.loading?.promise !== promise) throw err;
        const kept = previous ? await this.restore(previous) : undefined;
        if (this.loading?.promise !== promise) throw err;
        this.loading = undefined;
        this.fallback = undefined;
        this.setState(kept ? { kind: 'ready', dir: kept.dir, info: kept.info, failedLoad: { dir, message: err.message } } : { kind: 'error', dir, message: err.message });
        const still = kept ? ` Still using ${kept.info.name}.` : '';
        void vscode.window.showErrorMessage(`MoE Workbench could not load the model: ${err.message}${still}`, 'Open Another Model…').then((pick) => {
          if (pick) void vscode.commands.executeCommand(Commands.openModel);
        });
        throw err;
      },
    );
    this.loading = { dir, promise };
    return promise;
  }

  /** After a failed load: the previous model, still in the engine or loaded again; undefined if that fails too. */
  private async restore(previous: Ready): Promise<Ready | undefined> {
    const current = await this.engine.request('inspect', {}).catch(() => undefined);
    if (current?.path === previous.info.path) return previous;
    try {
      await this.engine.request('load', loadParams(previous.dir));
      return previous;
    } catch {
      return undefined;
    }
  }

  /** In Restricted Mode with the workspace's model path held back: say so once, and in the model's notes. */
  private noteRestricted(info: ModelInfo): ModelInfo {
    const held = heldBackWorkspaceModelPath();
    if (held === undefined) return info;
    const note = `Restricted Mode: this workspace's moeWorkbench.modelPath (${held}) is not loaded until you trust the workspace.`;
    if (!this.toldRestricted) {
      this.toldRestricted = true;
      void vscode.window.showInformationMessage(`MoE Workbench: ${note} Using ${info.name} instead.`, 'Manage Workspace Trust').then((pick) => {
        if (pick) void vscode.commands.executeCommand('workbench.trust.manage');
      });
    }
    return { ...info, warnings: [...(info.warnings ?? []), note] };
  }

  private async remember(dir: string): Promise<void> {
    await this.memento.update(RECENT_KEY, [dir, ...this.recent.filter((d) => d !== dir)].slice(0, MAX_RECENT));
  }

  private setState(s: ModelState): void {
    this._state = s;
    this.emitter.fire(s);
  }

  dispose(): void {
    this.emitter.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** A load request under the configured memory budget; an invalid setting fails the load, naming the setting. */
function loadParams(modelDir: string): { modelDir: string; memoryBudget?: number } {
  const memoryBudget = memoryBudgetSetting();
  return memoryBudget === undefined ? { modelDir } : { modelDir, memoryBudget };
}
