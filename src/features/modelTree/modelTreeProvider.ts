// The "Model" tree: MoE layers -> experts, each with its share of the tokens seen this session. Expert
// items carry context menus for the operations to come (disabled until they exist).
import * as vscode from 'vscode';
import type { SessionStats } from '../annotation/sessionStats';
import type { ModelManager } from '../model/modelManager';
import { Commands } from '../ids';
import { expertColourId } from '../decorations/palette';

export type ModelTreeNode = { readonly kind: 'layer'; readonly layer: number } | { readonly kind: 'expert'; readonly layer: number; readonly expert: number };

export class ModelTreeProvider implements vscode.TreeDataProvider<ModelTreeNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ModelTreeNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly models: ModelManager,
    private readonly stats: SessionStats,
  ) {
    this.disposables = [models.onDidChange(() => this.emitter.fire(undefined)), stats.onDidChange(() => this.emitter.fire(undefined))];
  }

  getChildren(node?: ModelTreeNode): ModelTreeNode[] {
    const info = this.models.info;
    if (!info) return [];
    if (!node) return info.moeLayers.map((layer) => ({ kind: 'layer', layer }));
    if (node.kind === 'layer') return Array.from({ length: info.numExperts }, (_, expert) => ({ kind: 'expert', layer: node.layer, expert }));
    return [];
  }

  getTreeItem(node: ModelTreeNode): vscode.TreeItem {
    const info = this.models.info!;
    const tokens = this.stats.tokens;
    if (node.kind === 'layer') {
      const item = new vscode.TreeItem(`Layer ${node.layer}`, vscode.TreeItemCollapsibleState.Collapsed);
      item.description = `${info.numExperts} experts, top-${info.topK}`;
      item.contextValue = 'moeLayer';
      item.iconPath = new vscode.ThemeIcon('layers');
      return item;
    }
    const counts = this.stats.counts(node.layer, info.numExperts);
    const c = counts[node.expert] ?? 0;
    const share = tokens > 0 ? c / tokens : 0;
    const item = new vscode.TreeItem(`Expert ${node.expert}`, vscode.TreeItemCollapsibleState.None);
    item.id = `L${node.layer}E${node.expert}`;
    item.description = tokens > 0 ? `${(100 * share).toFixed(1)}% · ${c} tokens` : 'no tokens yet';
    item.tooltip = new vscode.MarkdownString(
      `**Layer ${node.layer}, expert ${node.expert}**\n\nChosen (top-${info.topK}) by ${c} of the ${tokens} tokens annotated this session (${(100 * share).toFixed(1)}%).\n\n_Prune, fine-tune and duplicate are coming in upcoming releases (disabled for now)._`,
    );
    item.contextValue = 'moeExpert';
    item.iconPath = new vscode.ThemeIcon('circle-filled', new vscode.ThemeColor(expertColourId(node.expert)));
    item.command = { command: Commands.selectExpert, title: 'Select expert', arguments: [node.layer, node.expert] };
    return item;
  }

  dispose(): void {
    this.emitter.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
