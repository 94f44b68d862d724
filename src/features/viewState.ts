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
    this.changed();
  }

  /** Selecting an expert switches to the "routed to the selected expert" colouring; clearing goes back. */
  selectExpert(layer: number, expert: number | undefined): void {
    this._layer = layer;
    this._expert = expert;
    this._mode = expert === undefined ? (this._mode === 'selectedExpert' ? 'expert' : this._mode) : 'selectedExpert';
    this.changed();
  }

  private changed(): void {
    void this.memento.update('moeWorkbench.viewState', { layer: this._layer, mode: this._mode } satisfies Persisted);
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
