// Which model is open, loading it into the engine worker, and the recent-models list. With no model
// configured, the bundled demo model is used.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineClient } from '../../host/engineClient';
import type { ModelInfo } from '../../protocol/modelInfo';
import { MoeError } from '../../protocol/moeError';
import { Settings } from '../ids';

export type ModelState =
  | { readonly kind: 'none' }
  | { readonly kind: 'loading'; readonly dir: string }
  | { readonly kind: 'ready'; readonly dir: string; readonly info: ModelInfo }
  | { readonly kind: 'error'; readonly dir: string; readonly message: string };

const RECENT_KEY = 'moeWorkbench.recentModels';
const MAX_RECENT = 8;

export class ModelManager implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ModelState>();
  readonly onDidChange = this.emitter.event;
  private _state: ModelState = { kind: 'none' };
  private loading: Promise<ModelInfo> | undefined;
  /** Set by "Close Model": stay closed until a model is opened again. */
  private closed = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly engine: EngineClient,
    private readonly memento: vscode.Memento,
    private readonly demoModelDir: string,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${Settings.section}.${Settings.modelPath}`)) {
          this.closed = false;
          void this.load(this.configuredDir()).catch(() => undefined);
        }
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

  /** The configured model folder, or the bundled demo model. */
  configuredDir(): string {
    const p = vscode.workspace.getConfiguration(Settings.section).get<string>(Settings.modelPath, '').trim();
    if (!p) return this.demoModelDir;
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return path.isAbsolute(p) || !root ? p : path.join(root, p);
  }

  /** The loaded model, loading the configured one on first use. Undefined after "Close Model". */
  async ensureLoaded(): Promise<ModelInfo | undefined> {
    if (this.closed) return undefined;
    if (this._state.kind === 'ready') return this._state.info;
    if (this.loading) return this.loading;
    if (this._state.kind === 'error') return undefined;
    return this.load(this.configuredDir());
  }

  /** Loads a model folder, replacing the current one. Errors are shown and rethrown. */
  async open(dir: string): Promise<ModelInfo> {
    this.closed = false;
    return this.load(dir);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.loading = undefined;
    this.setState({ kind: 'none' });
    await this.engine.request('unload', {}).catch(() => undefined);
  }

  private load(dir: string): Promise<ModelInfo> {
    this.setState({ kind: 'loading', dir });
    const p: Promise<ModelInfo> = Promise.resolve(
      vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Loading ${path.basename(dir)}` }, (progress) =>
        this.engine.request('load', { modelDir: dir }, { onProgress: (pr) => progress.report({ message: `${pr.done}/${pr.total}` }) }),
      ),
    ).then(
        (info) => {
          if (this.loading !== p) return info;
          this.loading = undefined;
          this.setState({ kind: 'ready', dir, info });
          if (dir !== this.demoModelDir) void this.remember(dir);
          return info;
        },
        (e: unknown) => {
          const err = MoeError.from(e);
          if (this.loading === p) {
            this.loading = undefined;
            this.setState({ kind: 'error', dir, message: err.message });
            void vscode.window.showErrorMessage(`MoE Workbench could not load the model: ${err.message}`, 'Open Another Model…').then((pick) => {
              if (pick) void vscode.commands.executeCommand('moeWorkbench.openModel');
            });
          }
          throw err;
        },
      );
    this.loading = p;
    return p;
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
