// Hover on any annotated token: its routing in every MoE layer.
import * as vscode from 'vscode';
import type { AnnotationController } from '../annotation/annotationController';
import { tokenAt } from '../annotation/documentRouting';
import type { ModelManager } from '../model/modelManager';
import type { ProfileStore } from '../profile/profileStore';
import type { ViewState } from '../viewState';
import { HOVER_COMMANDS, hoverMarkdown } from './hoverMarkdown';

export class RoutingHoverProvider implements vscode.HoverProvider {
  constructor(
    private readonly annotations: AnnotationController,
    private readonly models: ModelManager,
    private readonly view: ViewState,
    private readonly profiles: ProfileStore,
  ) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const doc = this.annotations.get(document.uri);
    if (!doc || doc.version !== document.version) return undefined;
    const i = tokenAt(doc, document.offsetAt(position));
    if (i < 0) return undefined;
    const t = doc.tokens[i]!;
    const info = this.models.info;
    const md = new vscode.MarkdownString(hoverMarkdown(doc, i, info ? this.view.layerFor(info.moeLayers) : undefined, this.profiles.current, info?.expertOrigins));
    // Only the hover's own commands run from its links; no HTML (supportHtml stays false).
    md.isTrusted = { enabledCommands: [...HOVER_COMMANDS] };
    return new vscode.Hover(md, new vscode.Range(document.positionAt(t.start), document.positionAt(t.end)));
  }
}
