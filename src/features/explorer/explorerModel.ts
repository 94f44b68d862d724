// The Expert Explorer's data: the routing of the active (or last active) annotated document for the
// selected layer, the document's layer × expert load and balance figures, the active expert profile's
// statistic per layer and expert, and the view state.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { layerBalance } from '../../metrics/balance';
import type { ExplorerState, ExplorerToHost } from '../../protocol/explorerProtocol';
import type { AnnotationController } from '../annotation/annotationController';
import type { DocumentRouting } from '../annotation/documentRouting';
import { layerOrigins, untrainedSentence } from '../model/modelLabels';
import type { ModelManager } from '../model/modelManager';
import type { ProfileStore } from '../profile/profileStore';
import type { ViewState } from '../viewState';
import { ProfileSectionCache } from './profileSection';

export class ExplorerModel implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private docUri: string | undefined;
  /** The token of the last "Show in Explorer", in the document it was made in (never shown for another). */
  private revealed: { readonly uri: string; readonly index: number } | undefined;
  private readonly disposables: vscode.Disposable[];
  private readonly profileSection: ProfileSectionCache;

  constructor(
    private readonly annotations: AnnotationController,
    private readonly models: ModelManager,
    private readonly view: ViewState,
    private readonly profiles: ProfileStore,
  ) {
    this.profileSection = new ProfileSectionCache(profiles);
    this.disposables = [
      annotations.onDidChange((uri) => {
        if (uri === this.docUri || this.docUri === undefined || vscode.window.activeTextEditor?.document.uri.toString() === uri) this.follow();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.follow()),
      view.onDidChange(() => this.emitter.fire()),
      models.onDidChange(() => this.emitter.fire()),
      profiles.onDidChange(() => this.emitter.fire()),
    ];
    this.follow();
  }

  /** Shows the active editor's document when it is annotated; otherwise keeps the last one. */
  private follow(): void {
    const active = vscode.window.activeTextEditor?.document.uri.toString();
    if (active && this.annotations.get(active)) this.docUri = active;
    // The highlight belongs to its document: another document shown drops it (coming back does not restore it).
    if (this.revealed && this.revealed.uri !== this.docUri) this.revealed = undefined;
    this.emitter.fire();
  }

  /** "Show in Explorer": the token's row is revealed in the explorer. */
  revealToken(uri: string, index: number): void {
    this.docUri = uri;
    this.revealed = { uri, index };
    this.emitter.fire();
  }

  current(): ExplorerState {
    const info = this.models.info;
    const profile = this.profileSection.get();
    const base = { selectedExpert: this.view.expert, colourMode: this.view.mode, ...(profile ? { profile } : {}) };
    if (!info) {
      const s = this.models.state;
      const message = s.kind === 'error' ? `The model could not be loaded: ${s.message}` : s.kind === 'loading' ? 'Loading the model…' : 'No model is open. Run "MoE: Open Model…".';
      return { ...base, model: undefined, selectedLayer: undefined, document: undefined, message };
    }
    const layer = this.view.layerFor(info.moeLayers);
    const untrained = untrainedSentence(info);
    const origins = layerOrigins(info.expertOrigins, layer);
    const model = { name: info.name, numExperts: info.numExperts, topK: info.topK, moeLayers: info.moeLayers, ...(untrained ? { untrained } : {}), ...(origins ? { origins } : {}) };
    const doc = this.docUri ? this.annotations.get(this.docUri) : undefined;
    if (!doc) return { ...base, model, selectedLayer: layer, document: undefined, message: 'Open a .prompt file, or run "MoE: Annotate Editor" on any file.' };
    const revealed = this.revealed && this.revealed.uri === doc.uri && this.revealed.index < doc.tokens.length ? this.revealed.index : undefined;
    return { ...base, model, selectedLayer: layer, document: this.describe(doc, layer), ...(revealed !== undefined ? { revealedToken: revealed } : {}) };
  }

  private describe(doc: DocumentRouting, layer: number | undefined): NonNullable<ExplorerState['document']> {
    const k = doc.topK;
    const l = doc.layers.find((x) => x.layer === layer);
    const known = (t: number): boolean => doc.known[t] === 1;
    return {
      uri: doc.uri,
      name: path.basename(vscode.Uri.parse(doc.uri).path),
      version: doc.version,
      tokens: doc.tokens.map((t) => ({ text: t.text, id: t.id })),
      known: Array.from(doc.known, (v) => v === 1),
      routing: doc.tokens.map((_, t) => (l && known(t) ? Array.from({ length: k }, (_, j) => [l.experts[t * k + j]!, l.weights[t * k + j]!] as const) : [])),
      balance: doc.layers.map((x) => layerBalance(x.layer, x.experts, x.entropy, doc.numExperts, k, known)),
      complete: doc.complete,
    };
  }

  handle(msg: ExplorerToHost): void {
    switch (msg.type) {
      case 'ready':
        this.emitter.fire();
        return;
      case 'revealToken':
        void this.revealInEditor(msg.index);
        return;
      case 'selectExpert':
        this.view.selectExpert(msg.layer, msg.expert);
        return;
      case 'selectLayer':
        this.view.setLayer(msg.layer);
        return;
      case 'selectStatistic':
        this.profiles.setStatistic(msg.statistic);
        return;
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  private async revealInEditor(index: number): Promise<void> {
    const doc = this.docUri ? this.annotations.get(this.docUri) : undefined;
    const tok = doc?.tokens[index];
    if (!doc || !tok) return;
    const td = await vscode.workspace.openTextDocument(vscode.Uri.parse(doc.uri));
    const editor = await vscode.window.showTextDocument(td, { preserveFocus: false, preview: false });
    const range = new vscode.Range(td.positionAt(tok.start), td.positionAt(tok.end));
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    this.emitter.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
