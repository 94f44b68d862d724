// "MoE: Upcycle to MoE…" (issue #11 §4): a dense model into a mixture of experts. The command owns its flow,
// which keeps the "dense model open" context key up to date (so it is disposed with the extension).
import * as vscode from 'vscode';
import { Commands } from '../ids';
import { showOperationError } from '../operations/engineProgress';
import { UpcycleFlow, type UpcycleFlowDeps } from '../upcycle/upcycleFlow';
import type { Command } from './command';

export class UpcycleToMoeCommand implements Command, vscode.Disposable {
  readonly id = Commands.upcycleToMoe;
  private readonly flow: UpcycleFlow;

  constructor(deps: UpcycleFlowDeps) {
    this.flow = new UpcycleFlow(deps);
  }

  async execute(): Promise<void> {
    await this.flow.start().catch((e: unknown) => showOperationError('upcycling', e));
  }

  dispose(): void {
    this.flow.dispose();
  }
}
