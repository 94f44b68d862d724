// Choosing what the decorations and the explorer show.
import * as vscode from 'vscode';
import type { ColourMode } from '../../protocol/explorerProtocol';
import type { ExplorerModel } from '../explorer/explorerModel';
import { Commands, Views } from '../ids';
import type { ModelManager } from '../model/modelManager';
import type { ViewState } from '../viewState';
import type { Command } from './command';

export class SelectLayerCommand implements Command {
  readonly id = Commands.selectLayer;
  constructor(
    private readonly models: ModelManager,
    private readonly view: ViewState,
  ) {}

  async execute(layer?: unknown): Promise<void> {
    const info = await this.models.ensureLoaded().catch(() => undefined);
    if (!info || info.moeLayers.length === 0) {
      void vscode.window.showInformationMessage('MoE Workbench: the model has no MoE layers to select.');
      return;
    }
    if (typeof layer === 'number' && info.moeLayers.includes(layer)) return this.view.setLayer(layer);
    const current = this.view.layerFor(info.moeLayers);
    const pick = await vscode.window.showQuickPick(
      info.moeLayers.map((l) => ({ label: `Layer ${l}`, description: l === current ? 'selected' : '', layer: l })),
      { title: 'MoE: Select Layer', placeHolder: 'Decorations and the Expert Explorer show this layer' },
    );
    if (pick) this.view.setLayer(pick.layer);
  }
}

/** The Colour By choices (exported for a test of their wording). */
export const COLOUR_MODES: readonly { mode: ColourMode; label: string; detail: string }[] = [
  { mode: 'expert', label: 'Top-1 expert', detail: 'Each token tinted by the expert with the highest gate weight' },
  { mode: 'entropy', label: 'Router entropy', detail: 'Stronger tint = the router hesitates (higher entropy); the Expert Explorer shows the legend' },
  { mode: 'selectedExpert', label: 'Routed to the selected expert', detail: 'Outline the tokens that chose the expert selected in the explorer or tree' },
];

export class ColourByCommand implements Command {
  readonly id = Commands.colourBy;
  constructor(private readonly view: ViewState) {}

  async execute(mode?: unknown): Promise<void> {
    const given = COLOUR_MODES.find((m) => m.mode === mode);
    if (given) return this.view.setMode(given.mode);
    const pick = await vscode.window.showQuickPick(
      COLOUR_MODES.map((m) => ({ ...m, description: m.mode === this.view.mode ? 'current' : '' })),
      { title: 'MoE: Colour By' },
    );
    if (pick) this.view.setMode(pick.mode);
  }
}

export class SelectExpertCommand implements Command {
  readonly id = Commands.selectExpert;
  constructor(
    private readonly models: ModelManager,
    private readonly view: ViewState,
  ) {}

  async execute(layer?: unknown, expert?: unknown): Promise<void> {
    const info = this.models.info;
    if (!info) return;
    if (typeof layer === 'number' && typeof expert === 'number' && info.moeLayers.includes(layer) && expert >= 0 && expert < info.numExperts) {
      this.view.selectExpert(layer, expert);
      return;
    }
    const l = this.view.layerFor(info.moeLayers);
    if (l === undefined) return;
    const pick = await vscode.window.showQuickPick(
      Array.from({ length: info.numExperts }, (_, e) => ({ label: `Expert ${e}`, expert: e })),
      { title: `MoE: Select an expert of layer ${l}` },
    );
    if (pick) this.view.selectExpert(l, pick.expert);
  }
}

export class ShowTokenInExplorerCommand implements Command {
  readonly id = Commands.showTokenInExplorer;
  constructor(private readonly explorer: ExplorerModel) {}

  async execute(uri?: unknown, index?: unknown): Promise<void> {
    await vscode.commands.executeCommand(`${Views.explorer}.focus`);
    if (typeof uri === 'string' && typeof index === 'number') this.explorer.revealToken(uri, index);
  }
}
