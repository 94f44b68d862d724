// The "Model" tree: MoE layers -> experts, each with its share of the tokens seen this session. With a
// profile loaded, experts show the selected statistic and its rank in the layer, sorted by it (unless the
// user switched sorting off), and their tooltip lists frequency / gate / REAP / EAN. Layer and expert
// items carry context menus: Prune (both), Merge (layers); fine-tune and duplicate are still to come.
// In a pruned or merged checkpoint, experts also show their id in the source model ("orig. 5", "orig. 5+7").
import * as vscode from 'vscode';
import type { LayerProfile } from '../../protocol/expertOps';
import type { SessionStats } from '../annotation/sessionStats';
import { expertColourId } from '../decorations/palette';
import { Commands } from '../ids';
import { escapeMarkdown, originLine, originSuffix, originsSentence } from '../model/modelLabels';
import type { ModelManager } from '../model/modelManager';
import type { ProfileStore } from '../profile/profileStore';
import { STATISTIC_SHORT, expertDescription, expertProfileLines, layerRanking } from './expertProfileText';

export type ModelTreeNode = { readonly kind: 'layer'; readonly layer: number } | { readonly kind: 'expert'; readonly layer: number; readonly expert: number };

export class ModelTreeProvider implements vscode.TreeDataProvider<ModelTreeNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ModelTreeNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly models: ModelManager,
    private readonly stats: SessionStats,
    private readonly profiles: ProfileStore,
  ) {
    const refresh = (): void => this.emitter.fire(undefined);
    this.disposables = [models.onDidChange(refresh), stats.onDidChange(refresh), profiles.onDidChange(refresh)];
  }

  /** The profile's figures for a layer (the store only holds a profile of the loaded model). */
  private layerProfile(layer: number): LayerProfile | undefined {
    const info = this.models.info;
    const p = this.profiles.current?.profile;
    if (!info || !p) return undefined;
    const l = p.layers.find((x) => x.layer === layer);
    return l && l.numExperts === info.numExperts ? l : undefined;
  }

  getChildren(node?: ModelTreeNode): ModelTreeNode[] {
    const info = this.models.info;
    if (!info) return [];
    if (!node) return info.moeLayers.map((layer) => ({ kind: 'layer', layer }));
    if (node.kind !== 'layer') return [];
    const lp = this.layerProfile(node.layer);
    const ids = lp && this.profiles.sortByStatistic ? [...layerRanking(lp, this.profiles.statistic).order] : Array.from({ length: info.numExperts }, (_, e) => e);
    return ids.map((expert) => ({ kind: 'expert', layer: node.layer, expert }));
  }

  getParent(node: ModelTreeNode): ModelTreeNode | undefined {
    return node.kind === 'expert' ? { kind: 'layer', layer: node.layer } : undefined;
  }

  getTreeItem(node: ModelTreeNode): vscode.TreeItem {
    const info = this.models.info!;
    const stat = this.profiles.statistic;
    const lp = this.layerProfile(node.layer);
    if (node.kind === 'layer') {
      const item = new vscode.TreeItem(`Layer ${node.layer}`, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `L${node.layer}`;
      item.description = `${info.numExperts} experts, top-${info.topK}${lp ? ` · ${STATISTIC_SHORT[stat]}${this.profiles.sortByStatistic ? ', sorted' : ''}` : ''}`;
      const origins = originsSentence(info.expertOrigins);
      item.tooltip = lp
        ? new vscode.MarkdownString(`**Layer ${node.layer}**: ${info.numExperts} experts, top-${info.topK}.\n\nExperts show **${STATISTIC_SHORT[stat]}** from the profile of ${lp.tokens.toLocaleString('en-US')} tokens (*MoE: Show Profile Statistic…* to change).${origins ? `\n\n${escapeMarkdown(origins)}` : ''}\n\nRight-click to prune or merge this model's experts.`)
        : `Layer ${node.layer}: ${info.numExperts} experts, top-${info.topK}. Run "MoE: Profile Experts…" to rank its experts.${origins ? ` ${origins}` : ''}`;
      item.contextValue = 'moeLayer';
      item.iconPath = new vscode.ThemeIcon('layers');
      return item;
    }
    const tokens = this.stats.tokens;
    const counts = this.stats.counts(node.layer, info.numExperts);
    const c = counts[node.expert] ?? 0;
    const share = tokens > 0 ? c / tokens : 0;
    const session = tokens > 0 ? `${(100 * share).toFixed(1)}% · ${c} tokens` : 'no tokens yet';
    const orig = originSuffix(info.expertOrigins, node.layer, node.expert);
    const item = new vscode.TreeItem(`Expert ${node.expert}${orig}`, vscode.TreeItemCollapsibleState.None);
    item.id = `L${node.layer}E${node.expert}`;
    item.description = lp ? `${expertDescription(lp, stat, node.expert)}${tokens > 0 ? ` · ${(100 * share).toFixed(1)}% seen` : ''}` : session;
    const lines = [`**Layer ${node.layer}, expert ${node.expert}**`];
    const from = originLine(info.expertOrigins, node.layer, node.expert);
    if (from) lines.push('', escapeMarkdown(from));
    lines.push('', `Chosen (top-${info.topK}) by ${c} of the ${tokens} tokens annotated this session (${(100 * share).toFixed(1)}%).`);
    if (lp) lines.push('', `Profile (${lp.tokens.toLocaleString('en-US')} calibration tokens; rank within the layer):`, '', ...expertProfileLines(lp, node.expert, stat));
    lines.push('', '_Right-click: prune experts (this one is highlighted in the preview). Fine-tune and duplicate are coming in upcoming releases._');
    item.tooltip = new vscode.MarkdownString(lines.join('\n'));
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
