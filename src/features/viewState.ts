// What the user is looking at: the selected layer, the colour mode and the selected expert. Shared by
// decorations, hover, explorer and tree; persisted per workspace.
import * as vscode from 'vscode';
import type { ColourMode } from '../protocol/explorerProtocol';

interface Persisted {
  readonly layer?: number;
  readonly mode?: ColourMode;
}

export class ViewState implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private _layer: number | undefined;
  private _mode: ColourMode;
  private _expert: number | undefined;
  /** The mode to return to when the expert selection is cleared (selecting one switches to 'selectedExpert'). */
  private modeBeforeSelection: ColourMode | undefined;

  constructor(private readonly memento: vscode.Memento) {
    const p = memento.get<Persisted>('moeWorkbench.viewState', {});
    this._layer = p.layer;
    this._mode = p.mode ?? 'expert';
  }

  get layer(): number | undefined {
    return this._layer;
  }
  get mode(): ColourMode {
    return this._mode;
  }
  get expert(): number | undefined {
    return this._expert;
  }

  /** The selected layer if the model has it, else the model's first MoE layer. */
  layerFor(moeLayers: readonly number[]): number | undefined {
    return this._layer !== undefined && moeLayers.includes(this._layer) ? this._layer : moeLayers[0];
  }

  setLayer(layer: number): void {
    if (layer === this._layer) return;
    this._layer = layer;
    this.changed();
  }

  setMode(mode: ColourMode): void {
    if (mode === this._mode) return;
    this._mode = mode;
    // A mode the user chose is kept when the selection is cleared.
    this.modeBeforeSelection = undefined;
    this.changed();
  }

  /**
   * Selecting an expert switches to the "routed to the selected expert" colouring; clearing the selection
   * returns to the mode the user had before (top-1 expert or entropy), not to a fixed one.
   */
  selectExpert(layer: number, expert: number | undefined): void {
    this._layer = layer;
    this._expert = expert;
    if (expert !== undefined) {
      if (this._mode !== 'selectedExpert') this.modeBeforeSelection = this._mode;
      this._mode = 'selectedExpert';
    } else if (this._mode === 'selectedExpert') {
      this._mode = this.modeBeforeSelection ?? 'expert';
      this.modeBeforeSelection = undefined;
    }
    this.changed();
  }

  private changed(): void {
    // The selected expert is not persisted, so neither is the mode that only shows it.
    const mode = this._mode === 'selectedExpert' && this._expert !== undefined ? (this.modeBeforeSelection ?? 'expert') : this._mode;
    void this.memento.update('moeWorkbench.viewState', { layer: this._layer, mode } satisfies Persisted);
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
