// The status bar item: the model (name, experts × layers, top-k) and the engine state.
import * as vscode from 'vscode';
import { Commands } from '../ids';
import type { ModelManager } from './modelManager';

export class ModelStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('moeWorkbench.model', vscode.StatusBarAlignment.Left, 50);
  private annotating = 0;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly models: ModelManager) {
    this.item.name = 'MoE Workbench Model';
    this.item.command = Commands.showModelMenu;
    this.subscription = models.onDidChange(() => this.render());
    this.render();
    this.item.show();
  }

  /** Counts running annotations (the engine is busy on this window's behalf). */
  setAnnotating(running: number): void {
    this.annotating = running;
    this.render();
  }

  private render(): void {
    const s = this.models.state;
    const it = this.item;
    it.backgroundColor = undefined;
    switch (s.kind) {
      case 'none':
        it.text = '$(circuit-board) MoE: no model';
        it.tooltip = 'MoE Workbench: no model open. Click to open one.';
        return;
      case 'loading':
        it.text = `$(sync~spin) MoE: loading ${shortName(s.dir)}`;
        it.tooltip = `Loading ${s.dir}`;
        return;
      case 'error':
        it.text = `$(error) MoE: ${shortName(s.dir)}`;
        it.tooltip = `Could not load ${s.dir}: ${s.message}`;
        it.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        return;
      case 'ready': {
        const i = s.info;
        const shape = i.moeLayers.length > 0 ? `${i.numExperts}×${i.moeLayers.length} top-${i.topK}` : 'dense';
        const state = this.annotating > 0 ? 'annotating' : 'idle';
        it.text = `${this.annotating > 0 ? '$(sync~spin)' : '$(circuit-board)'} ${i.name} · ${shape}`;
        it.tooltip = new vscode.MarkdownString(`**${i.name}** (${i.architecture})\n\n${i.moeLayers.length} MoE layers × ${i.numExperts} experts, top-${i.topK} · ${i.routing}\n\nEngine: ${state} · ${s.dir}`);
        return;
      }
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}

function shortName(dir: string): string {
  return dir.split(/[\\/]/).filter(Boolean).pop() ?? dir;
}
