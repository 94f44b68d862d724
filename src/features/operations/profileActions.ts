// Getting a profile of the loaded model into the ProfileStore: profiling it on calibration files (with a
// progress notification) or opening a saved profile file. Used by the Profile / Open Profile commands and
// by Prune / Merge when they need a profile first.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelInfo } from '../../protocol/modelInfo';
import type { EngineRequester } from '../../operations/expertOperation';
import type { OutputLog } from '../log/outputLog';
import type { ModelManager } from '../model/modelManager';
import type { ActiveProfile, ProfileStore } from '../profile/profileStore';
import { pickDataPaths } from './dataPicker';
import { showOperationError, withEngineProgress } from './engineProgress';
import { isInside, parseInteger, validateChunk, validateMaxTokens } from './operationInputs';

export const DEFAULT_CHUNK_TOKENS = 512;

export interface ProfileActionsOptions {
  /** The extension's folder: profiles of models inside it (the demo model) go to `storageDir` instead. */
  readonly extensionPath: string;
  readonly storageDir: string;
  /** The output channel: every profile run and opened profile, with its parameters and outcome. */
  readonly log?: OutputLog;
}

export class ProfileActions {
  private lastData: readonly string[] | undefined;

  constructor(
    private readonly engine: EngineRequester,
    private readonly models: ModelManager,
    private readonly profiles: ProfileStore,
    private readonly opts: ProfileActionsOptions,
  ) {}

  /** The loaded model, loading the configured one if needed; an error message when there is none. */
  async model(): Promise<ModelInfo | undefined> {
    const info = await this.models.ensureLoaded().catch(() => undefined);
    if (!info) void vscode.window.showErrorMessage('MoE Workbench: no model is loaded. Run "MoE: Open Model…" first.');
    else if (info.moeLayers.length === 0) {
      void vscode.window.showErrorMessage(`MoE Workbench: ${info.name} is a dense model (no MoE layers): there are no experts to profile, prune or merge.`);
      return undefined;
    }
    return info;
  }

  /** "MoE: Profile Experts…": asks for the data, chunk length and token cap, profiles, stores the result. */
  async profileInteractively(data?: readonly string[]): Promise<ActiveProfile | undefined> {
    const info = await this.model();
    if (!info) return undefined;
    const paths = data ?? (await this.pickData());
    if (!paths || paths.length === 0) return undefined;
    const chunkText = await vscode.window.showInputBox({
      title: 'MoE: Profile Experts (2/3) — chunk length',
      prompt: 'Tokens per forward pass: the calibration text is cut into chunks of this many tokens.',
      value: String(Math.min(DEFAULT_CHUNK_TOKENS, info.contextLength)),
      validateInput: (v) => validateChunk(v, info.contextLength),
      ignoreFocusOut: true,
    });
    if (chunkText === undefined) return undefined;
    const maxText = await vscode.window.showInputBox({
      title: 'MoE: Profile Experts (3/3) — token limit (optional)',
      prompt: 'Stop after this many tokens; leave empty to profile all of the data.',
      placeHolder: 'all of the data',
      validateInput: validateMaxTokens,
      ignoreFocusOut: true,
    });
    if (maxText === undefined) return undefined;
    const chunkTokens = parseInteger(chunkText)!;
    const maxTokens = maxText.trim() === '' ? undefined : parseInteger(maxText);
    this.lastData = paths;
    return this.run(info, paths, chunkTokens, maxTokens);
  }

  private pickData(): Promise<string[] | undefined> {
    return pickDataPaths({
      title: 'MoE: Profile Experts (1/3) — calibration data',
      placeHolder: 'Text the model should be profiled on: .txt, .md, source code, .jsonl with "text" or "messages"',
      openLabel: 'Profile on These',
      dialogTitle: 'Calibration data',
      ...(this.lastData ? { lastData: this.lastData } : {}),
    });
  }

  /** Profiles the loaded model; the result goes into the store. Errors are shown; undefined then. */
  async run(info: ModelInfo, data: readonly string[], chunkTokens: number, maxTokens?: number): Promise<ActiveProfile | undefined> {
    const t0 = Date.now();
    const log = this.opts.log;
    let result: ActiveProfile;
    try {
      const outDir = this.profileDir(info);
      log?.started('profile', { model: info.path, data: [...data], chunk: chunkTokens, maxTokens, out: outDir ?? 'beside the model' });
      result = await withEngineProgress(
        `MoE: Profiling ${info.name}`,
        (step) => this.engine.request('profile', { data, chunkTokens, ...(maxTokens !== undefined ? { maxTokens } : {}), ...(outDir ? { outDir } : {}) }, { ...step, timeoutMs: 0 }),
        true,
      );
    } catch (e) {
      showOperationError(`profiling ${info.name}`, e, log);
      return undefined;
    }
    this.profiles.set(result);
    const d = result.profile.data;
    log?.done('profile', `${d.tokens} tokens of ${d.documents.length} document(s), ${d.chunks} chunks${d.truncated ? ', stopped at the token limit' : ''}; saved ${result.file}`, Date.now() - t0);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const msg = `MoE Workbench: profiled ${info.name} on ${d.tokens.toLocaleString('en-US')} tokens (${d.chunks} chunks of ≤${d.chunkTokens}${d.truncated ? ', stopped at the token limit' : ''}) in ${secs} s. Saved ${result.file}`;
    void vscode.window.showInformationMessage(msg, 'Show in Explorer').then((b) => b && revealFile(result.file));
    return result;
  }

  /**
   * Profiles of models inside the extension (the demo model) go to the extension's storage, not beside the
   * model; the engine names the file by the model's and the data's identity, so a run on changed data never
   * overwrites a profile an existing checkpoint was planned from.
   */
  private profileDir(info: ModelInfo): string | undefined {
    return isInside(path.resolve(info.path), path.resolve(this.opts.extensionPath)) ? path.join(this.opts.storageDir, 'profiles') : undefined;
  }

  /** "MoE: Open Profile…": reads a profile file (refused when it was computed on another model). */
  async open(file?: string): Promise<ActiveProfile | undefined> {
    const info = await this.model();
    if (!info) return undefined;
    let target = file;
    if (!target) {
      const beside = path.join(info.path, 'moe-workbench-profiles');
      const stored = path.join(this.opts.storageDir, 'profiles');
      const def = [beside, stored].find((d) => fs.existsSync(d));
      const uris = await vscode.window.showOpenDialog({
        canSelectFiles: true,
        canSelectFolders: false,
        canSelectMany: false,
        filters: { 'MoE Workbench profile': ['json'] },
        openLabel: 'Open Profile',
        title: `Profile of ${info.name}`,
        ...(def ? { defaultUri: vscode.Uri.file(def) } : {}),
      });
      target = uris?.[0]?.fsPath;
    }
    if (!target) return undefined;
    const abs = path.resolve(target);
    this.opts.log?.started('open profile', { model: info.path, file: abs });
    try {
      const profile = await withEngineProgress(`MoE: Reading ${path.basename(abs)}`, (step) => this.engine.request('readProfile', { file: abs }, { ...step, timeoutMs: 0 }));
      const active = { file: abs, profile };
      this.profiles.set(active);
      this.opts.log?.done('open profile', `${profile.data.tokens} tokens of ${profile.data.files.length} file(s), chunk ${profile.data.chunkTokens}`);
      void vscode.window.showInformationMessage(`MoE Workbench: loaded the profile ${path.basename(abs)} (${profile.data.tokens.toLocaleString('en-US')} tokens of ${profile.data.files.length} file(s), chunk ${profile.data.chunkTokens}).`);
      return active;
    } catch (e) {
      showOperationError(`opening the profile ${abs}`, e, this.opts.log);
      return undefined;
    }
  }
}

/** In VS Code's explorer when the file is in the workspace, else in the OS file manager. */
export async function revealFile(file: string): Promise<void> {
  const uri = vscode.Uri.file(file);
  if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
  else await vscode.commands.executeCommand('revealFileInOS', uri);
}
