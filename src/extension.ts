// Composition root: constructs and registers; the engine worker starts lazily on first use.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AnnotationController } from './features/annotation/annotationController';
import { SessionStats } from './features/annotation/sessionStats';
import { AnnotateEditorCommand, AnnotateSelectionCommand, ToggleAnnotationsCommand } from './features/commands/annotateCommands';
import type { Command } from './features/commands/command';
import { FineTuneExpertsCommand, MergeExpertsCommand, OpenProfileCommand, OpenReportCommand, ProfileExpertsCommand, PruneExpertsCommand, SelectProfileStatisticCommand } from './features/commands/expertCommands';
import { CloseModelCommand, InspectModelCommand, OpenModelCommand, ShowModelMenuCommand } from './features/commands/modelCommands';
import { UpcycleToMoeCommand } from './features/commands/upcycleCommands';
import { ColourByCommand, SelectExpertCommand, SelectLayerCommand, ShowTokenInExplorerCommand } from './features/commands/viewCommands';
import { RoutingDecorations } from './features/decorations/routingDecorations';
import { ExplorerModel } from './features/explorer/explorerModel';
import { RoutingHoverProvider } from './features/hover/routingHoverProvider';
import { logModelStates } from './features/log/modelLoadLog';
import { OutputLog } from './features/log/outputLog';
import { Views } from './features/ids';
import { ModelManager } from './features/model/modelManager';
import { ModelStatusBar } from './features/model/modelStatusBar';
import { ModelTreeProvider } from './features/modelTree/modelTreeProvider';
import { createModelTreeView } from './features/modelTree/modelTreeView';
import { FinetuneFlow } from './features/finetune/finetuneFlow';
import { AddExpertsCommand, ContinueTrainingNewExpertsCommand, DuplicateExpertCommand } from './features/grow/growCommands';
import { ExpertOperationFlow } from './features/operations/expertOperationFlow';
import { ProfileActions } from './features/operations/profileActions';
import { ProfileStore } from './features/profile/profileStore';
import { ViewState } from './features/viewState';
import { EngineClient } from './host/engineClient';
import { ExpertExplorerView } from './webviews/expertExplorer/expertExplorerView';

export function activate(context: vscode.ExtensionContext): void {
  const own = <T extends vscode.Disposable>(d: T): T => {
    context.subscriptions.push(d);
    return d;
  };
  // ONNX Runtime leaves one core to the extension host so typing never waits on inference.
  const engine = new EngineClient({
    workerPath: path.join(context.extensionPath, 'dist', 'engineWorker.js'),
    idleShutdownMs: 10 * 60_000,
    workerData: { threads: Math.max(1, os.availableParallelism() - 1) },
  });
  own({ dispose: () => void engine.dispose() });
  const demoModelDir = path.join(context.extensionPath, 'media', 'demo-model');
  const output = own(vscode.window.createOutputChannel('MoE Workbench'));
  const log = new OutputLog((line) => output.appendLine(line));
  const models = own(new ModelManager(engine, context.globalState, demoModelDir));
  own(logModelStates(models.onDidChange, log));
  const view = own(new ViewState(context.workspaceState));
  const annotations = own(new AnnotationController(engine, models, (line) => log.line(line)));
  const stats = own(new SessionStats(annotations));
  own(models.onDidChange((s) => s.kind === 'ready' && stats.reset()));
  const profiles = own(new ProfileStore());
  own(profiles.followModel(models.onDidChange));
  const status = own(new ModelStatusBar(models));
  own(annotations.onDidChangeRunning((n) => status.setAnnotating(n)));
  own(new RoutingDecorations(annotations, models, view));
  const explorer = own(new ExplorerModel(annotations, models, view, profiles));
  own(vscode.window.registerWebviewViewProvider(Views.explorer, own(new ExpertExplorerView(context.extensionUri, explorer))));
  own(createModelTreeView(Views.modelTree, own(new ModelTreeProvider(models, stats, profiles)), models));
  own(vscode.languages.registerHoverProvider({ scheme: '*' }, new RoutingHoverProvider(annotations, models, view, profiles)));

  const profileActions = new ProfileActions(engine, models, profiles, { extensionPath: context.extensionPath, storageDir: context.globalStorageUri.fsPath, log });
  const flow = new ExpertOperationFlow({ engine, models, profiles, annotations, profileActions, extensionPath: context.extensionPath, log });
  const finetune = new FinetuneFlow({ engine, models, model: () => profileActions.model(), extensionUri: context.extensionUri, log });
  const grow = { engine, models, profiles, profileActions, extensionPath: context.extensionPath, log };

  const commands: Command[] = [
    new OpenModelCommand(models, demoModelDir),
    new CloseModelCommand(models),
    new InspectModelCommand(models, output),
    new ShowModelMenuCommand(),
    new AnnotateEditorCommand(annotations),
    new AnnotateSelectionCommand(annotations),
    new ToggleAnnotationsCommand(annotations),
    new SelectLayerCommand(models, view),
    new ColourByCommand(view),
    new SelectExpertCommand(models, view),
    new ShowTokenInExplorerCommand(explorer),
    new ProfileExpertsCommand(profileActions),
    new OpenProfileCommand(profileActions),
    new SelectProfileStatisticCommand(profiles),
    new PruneExpertsCommand(flow),
    new MergeExpertsCommand(flow),
    new OpenReportCommand(),
    new FineTuneExpertsCommand(finetune),
    own(new UpcycleToMoeCommand({ engine, models, extensionPath: context.extensionPath, log })),
    new AddExpertsCommand(grow),
    new DuplicateExpertCommand(grow),
    own(new ContinueTrainingNewExpertsCommand(models, finetune)),
  ];
  for (const c of commands) own(vscode.commands.registerCommand(c.id, (...args: unknown[]) => c.execute(...args)));
  // Load the configured (or demo) model in the background so the first annotation is quick.
  void models.ensureLoaded().catch(() => undefined);
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
