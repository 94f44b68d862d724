// Composition root: constructs and registers; the engine worker starts lazily on first use.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineClient } from './host/engineClient';
import { InspectModelCommand } from './features/inspectModelCommand';

export function activate(context: vscode.ExtensionContext): void {
  // ONNX Runtime leaves one core to the extension host so typing never waits on inference.
  const engine = new EngineClient({ workerPath: path.join(context.extensionPath, 'dist', 'engineWorker.js'), idleShutdownMs: 10 * 60_000, workerData: { threads: Math.max(1, os.availableParallelism() - 1) } });
  context.subscriptions.push({ dispose: () => void engine.dispose() });
  const output = vscode.window.createOutputChannel('MoE Workbench');
  context.subscriptions.push(output);
  const inspect = new InspectModelCommand(engine, output, path.join(context.extensionPath, 'media', 'demo-model'));
  context.subscriptions.push(vscode.commands.registerCommand(inspect.id, () => inspect.execute()));
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
