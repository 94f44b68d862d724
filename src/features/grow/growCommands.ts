// The grow commands (issue #11 §2–§4): "MoE: Add Experts…", "Duplicate Expert" (Model tree), and "MoE: Continue
// Training New Experts…", which starts the fine-tune flow (its "what trains" step pre-selects New experts when
// the model's moe_workbench.json records added experts). The last is enabled by a context key kept up to date here.
import * as vscode from 'vscode';
import { addedExperts } from '../../engine/grow/addedExperts';
import type { ModelInfo } from '../../protocol/modelInfo';
import type { Command } from '../commands/command';
import type { FinetuneFlow } from '../finetune/finetuneFlow';
import { Commands, Contexts } from '../ids';
import type { ModelManager } from '../model/modelManager';
import { showOperationError } from '../operations/engineProgress';
import { AddExpertsFlow } from './addExpertsFlow';
import { DuplicateExpertFlow } from './duplicateExpertFlow';
import { newExpertCount } from './growInputs';
import type { GrowDeps } from './growWrite';

/** Experts the model's record lists as added; 0 when none, or the record is unreadable (the engine says why when asked). */
function newExperts(info: ModelInfo | undefined): number {
  if (!info || info.moeLayers.length === 0) return 0;
  try {
    return newExpertCount(addedExperts(info.path));
  } catch {
    return 0;
  }
}

export class AddExpertsCommand implements Command {
  readonly id = Commands.addExperts;
  private readonly flow: AddExpertsFlow;
  constructor(deps: GrowDeps) {
    this.flow = new AddExpertsFlow(deps);
  }
  /** Optional argument: the Model tree layer (or expert) the menu was opened on. */
  async execute(node?: unknown): Promise<void> {
    await this.flow.start(node).catch((e: unknown) => showOperationError('adding experts', e));
  }
}

export class DuplicateExpertCommand implements Command {
  readonly id = Commands.duplicateExpert;
  private readonly flow: DuplicateExpertFlow;
  constructor(deps: GrowDeps) {
    this.flow = new DuplicateExpertFlow(deps);
  }
  /** Argument: the Model tree expert the menu was opened on. */
  async execute(node?: unknown): Promise<void> {
    await this.flow.start(node).catch((e: unknown) => showOperationError('duplicating the expert', e));
  }
}

export class ContinueTrainingNewExpertsCommand implements Command, vscode.Disposable {
  readonly id = Commands.continueTrainingNewExperts;
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly models: ModelManager,
    private readonly finetune: FinetuneFlow,
  ) {
    const update = (): void => void vscode.commands.executeCommand('setContext', Contexts.modelHasNewExperts, newExperts(models.info) > 0);
    this.sub = models.onDidChange(update);
    update();
  }

  async execute(): Promise<void> {
    const info = await this.models.ensureLoaded().catch(() => undefined);
    if (!info || newExperts(info) === 0) {
      void vscode.window.showErrorMessage(`MoE Workbench: ${info ? `${info.name}'s moe_workbench.json records no added experts (it was not made by "Upcycle to MoE…", "Add Experts…" or "Duplicate Expert")` : 'no model is loaded'}: open a grown or upcycled model to continue training its new experts.`);
      return;
    }
    await this.finetune.start().catch((e: unknown) => showOperationError('fine-tuning', e));
  }

  dispose(): void {
    this.sub.dispose();
  }
}
