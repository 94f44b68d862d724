// "MoE: Inspect Model…": pick a checkpoint folder (or the bundled demo model), show what inspect shows.
import * as vscode from 'vscode';
import { formatInspect } from '../cli/inspectText';
import type { EngineClient } from '../host/engineClient';
import { MoeError } from '../protocol/moeError';

export class InspectModelCommand {
  readonly id = 'moeWorkbench.inspectModel';

  constructor(
    private readonly engine: EngineClient,
    private readonly output: vscode.OutputChannel,
    private readonly demoModelDir: string,
  ) {}

  async execute(): Promise<void> {
    const pick = await vscode.window.showQuickPick(['Choose a checkpoint folder…', 'Bundled demo model'], { title: 'MoE: Inspect Model' });
    if (!pick) return;
    let dir = this.demoModelDir;
    if (pick.startsWith('Choose')) {
      const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Inspect' });
      if (!uris?.[0]) return;
      dir = uris[0].fsPath;
    }
    try {
      const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Loading model', cancellable: true }, (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return this.engine.request('load', { modelDir: dir }, { signal: abort.signal, onProgress: (p) => progress.report({ message: `${p.stage} ${p.done}/${p.total}` }) });
      });
      this.output.appendLine(formatInspect(info));
      this.output.show(true);
    } catch (e) {
      void vscode.window.showErrorMessage(`MoE Workbench: ${MoeError.from(e).message}`);
    }
  }
}
