// Opening, closing and inspecting models.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatInspect } from '../../cli/inspectText';
import { Commands } from '../ids';
import type { ModelManager } from '../model/modelManager';
import type { Command } from './command';

export class OpenModelCommand implements Command {
  readonly id = Commands.openModel;
  constructor(
    private readonly models: ModelManager,
    private readonly demoModelDir: string,
  ) {}

  async execute(dir?: unknown): Promise<void> {
    let target = typeof dir === 'string' ? dir : undefined;
    if (!target) {
      const items: (vscode.QuickPickItem & { dir?: string })[] = [
        { label: '$(folder-opened) Browse for a checkpoint folder…' },
        ...this.models.recent.map((d) => ({ label: path.basename(d), description: d, dir: d })),
        { label: '$(beaker) Bundled demo model', description: 'trained by the project on six domains (media/demo-model/TRAINING.md)', dir: this.demoModelDir },
      ];
      const pick = await vscode.window.showQuickPick(items, { title: 'MoE: Open Model', placeHolder: 'A Hugging Face checkpoint folder: config.json, *.safetensors, tokenizer.json' });
      if (!pick) return;
      target = pick.dir;
      if (!target) {
        const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Open Model' });
        target = uris?.[0]?.fsPath;
      }
    }
    if (target) await this.models.open(target).catch(() => undefined); // errors are shown by the manager
  }
}

export class CloseModelCommand implements Command {
  readonly id = Commands.closeModel;
  constructor(private readonly models: ModelManager) {}
  execute(): Promise<void> {
    return this.models.close();
  }
}

export class InspectModelCommand implements Command {
  readonly id = Commands.inspectModel;
  constructor(
    private readonly models: ModelManager,
    private readonly output: vscode.OutputChannel,
  ) {}

  async execute(): Promise<void> {
    const info = await this.models.ensureLoaded().catch(() => undefined);
    if (!info) {
      void vscode.window.showWarningMessage('MoE Workbench: no model is loaded. Run "MoE: Open Model…" first.');
      return;
    }
    this.output.appendLine(formatInspect(info));
    this.output.appendLine('');
    this.output.show(true);
  }
}

export class ShowModelMenuCommand implements Command {
  readonly id = Commands.showModelMenu;
  async execute(): Promise<void> {
    const items: (vscode.QuickPickItem & { command: string })[] = [
      { label: '$(folder-opened) Open Model…', command: Commands.openModel },
      { label: '$(info) Inspect Model', command: Commands.inspectModel },
      { label: '$(layers) Select Layer…', command: Commands.selectLayer },
      { label: '$(symbol-color) Colour By…', command: Commands.colourBy },
      { label: '$(close) Close Model', command: Commands.closeModel },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'MoE Workbench' });
    if (pick) await vscode.commands.executeCommand(pick.command);
  }
}
