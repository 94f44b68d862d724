// Tints every annotated token in visible editors: by its top-1 expert in the selected layer, by router
// entropy, or "routed to the selected expert". Decoration types are created once and disposed once.
import * as vscode from 'vscode';
import type { AnnotationController } from '../annotation/annotationController';
import { ENTROPY_BINS, PALETTE_SIZE } from '../ids';
import type { ModelManager } from '../model/modelManager';
import type { ViewState } from '../viewState';
import { entropyColourId, expertColourId } from './palette';
import { colourTokens, type TokenStyle } from './tokenColouring';

export class RoutingDecorations implements vscode.Disposable {
  private readonly expertTypes = Array.from({ length: PALETTE_SIZE }, (_, e) => vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor(expertColourId(e)), borderRadius: '2px' }));
  private readonly entropyTypes = Array.from({ length: ENTROPY_BINS }, (_, b) => vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor(entropyColourId(b)), borderRadius: '2px' }));
  private readonly selectedType = vscode.window.createTextEditorDecorationType({ border: '1px solid', borderColor: new vscode.ThemeColor('moeWorkbench.selectedExpertBorder'), borderRadius: '2px' });
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly annotations: AnnotationController,
    private readonly models: ModelManager,
    private readonly view: ViewState,
  ) {
    this.disposables.push(
      annotations.onDidChange((uri) => this.refresh(uri)),
      view.onDidChange(() => this.refresh()),
      models.onDidChange(() => this.refresh()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.refresh()),
    );
    this.refresh();
  }

  /** Ranges currently decorated per type, for the given editor (used by tests through a command). */
  private refresh(uri?: string): void {
    for (const ed of vscode.window.visibleTextEditors) {
      if (uri === undefined || ed.document.uri.toString() === uri) this.paint(ed);
    }
  }

  private paint(ed: vscode.TextEditor): void {
    const doc = this.annotations.get(ed.document.uri);
    const info = this.models.info;
    const layer = info ? this.view.layerFor(info.moeLayers) : undefined;
    const expertRanges = this.expertTypes.map(() => [] as vscode.Range[]);
    const entropyRanges = this.entropyTypes.map(() => [] as vscode.Range[]);
    const selected: vscode.Range[] = [];
    if (doc && layer !== undefined && doc.version === ed.document.version) {
      const place = (s: TokenStyle): vscode.Range[] => (s.kind === 'expert' ? expertRanges[s.colour]! : s.kind === 'entropy' ? entropyRanges[s.bin]! : selected);
      for (const span of colourTokens(doc, layer, this.view.mode, this.view.expert)) {
        place(span.style).push(new vscode.Range(ed.document.positionAt(span.start), ed.document.positionAt(span.end)));
      }
    }
    this.expertTypes.forEach((t, i) => ed.setDecorations(t, expertRanges[i]!));
    this.entropyTypes.forEach((t, i) => ed.setDecorations(t, entropyRanges[i]!));
    ed.setDecorations(this.selectedType, selected);
  }

  dispose(): void {
    for (const d of [...this.disposables, ...this.expertTypes, ...this.entropyTypes, this.selectedType]) d.dispose();
  }
}
