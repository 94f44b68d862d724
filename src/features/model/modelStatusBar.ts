// The status bar item: the model (name, experts × layers, top-k, "untrained" for random weights) and the
// engine state; the tooltip says what an untrained or pruned/merged model is, and how its weights are held.
import * as vscode from 'vscode';
import { Commands } from '../ids';
import { memorySentence } from './memoryLabel';
import { escapeMarkdown, modelDisplayName, modelNotes, UNTRAINED } from './modelLabels';
import type { AnnotationActivity } from '../annotation/annotationController';
import type { ModelManager } from './modelManager';

export class ModelStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('moeWorkbench.model', vscode.StatusBarAlignment.Left, 50);
  private annotating = 0;
  /** Why annotation waits for the engine, while it does. */
  private waiting: string | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly models: ModelManager) {
    this.item.name = 'MoE Workbench Model';
    this.item.command = Commands.showModelMenu;
    this.subscription = models.onDidChange(() => this.render());
    this.render();
    this.item.show();
  }

  /** Counts running annotations (the engine is busy on this window's behalf). */
  setAnnotating(activity: AnnotationActivity): void {
    this.annotating = activity.running;
    this.waiting = activity.waiting;
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
        const state = this.waiting !== undefined ? `annotation ${this.waiting}` : this.annotating > 0 ? 'annotating' : 'idle';
        // "untrained" goes last so the name and shape keep their place (and what the e2e tests read).
        const icon = this.waiting !== undefined ? '$(watch)' : this.annotating > 0 ? '$(sync~spin)' : '$(circuit-board)';
        it.text = `${icon} ${i.name} · ${shape}${i.untrained ? ` · ${UNTRAINED}` : ''}${this.waiting !== undefined ? ' · annotation waiting' : ''}`;
        const memory = memorySentence(i);
        const notes = [...modelNotes(i), ...(i.warnings ?? []).map((w) => `⚠ ${w}`), ...(memory ? [memory] : [])];
        const lines = [`${i.moeLayers.length} MoE layers × ${i.numExperts} experts, top-${i.topK} · ${i.routing}`, ...notes, `Engine: ${state} · ${s.dir}`];
        it.tooltip = new vscode.MarkdownString([`**${escapeMarkdown(modelDisplayName(i))}** (${escapeMarkdown(i.architecture)})`, ...lines.map(escapeMarkdown)].join('\n\n'));
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
