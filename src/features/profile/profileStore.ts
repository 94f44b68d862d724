// The profile shown in the views and used by Prune/Merge: at most one, for the loaded model. Set by
// "Profile Experts…" or by opening a profile file; put aside when another model loads and brought back
// when its model is loaded again (the profile is still stored, so the Profile tab must come back too).
import * as vscode from 'vscode';
import type { ExpertProfile, ExpertStatistic } from '../../protocol/expertOps';
import type { ModelInfo } from '../../protocol/modelInfo';
import type { ModelState } from '../model/modelManager';

export interface ActiveProfile {
  readonly file: string;
  readonly profile: ExpertProfile;
}

export class ProfileStore implements vscode.Disposable {
  private active: ActiveProfile | undefined;
  private stat: ExpertStatistic = 'reap';
  private sorted = true;
  /** The folder of the model the active profile belongs to (as followModel last saw it). */
  private modelPath: string | undefined;
  /** The last profile of every model loaded this session, by model folder. */
  private readonly byModel = new Map<string, ActiveProfile>();
  private readonly changed = new vscode.EventEmitter<ActiveProfile | undefined>();
  /** Fires when the profile or the shown statistic changes. */
  readonly onDidChange = this.changed.event;

  get current(): ActiveProfile | undefined {
    return this.active;
  }

  /** The statistic the views show (bars, sorting). */
  get statistic(): ExpertStatistic {
    return this.stat;
  }

  /** Makes `p` the profile of the loaded model (undefined: the model has none). */
  set(p: ActiveProfile | undefined): void {
    if (this.modelPath !== undefined) {
      if (p) this.byModel.set(this.modelPath, p);
      else this.byModel.delete(this.modelPath);
    }
    this.show(p);
  }

  setStatistic(s: ExpertStatistic): void {
    this.stat = s;
    this.changed.fire(this.active);
  }

  /** Whether the Model tree lists experts by the statistic (highest first) rather than by id. */
  get sortByStatistic(): boolean {
    return this.sorted;
  }

  setSortByStatistic(on: boolean): void {
    this.sorted = on;
    this.changed.fire(this.active);
  }

  /**
   * A profile belongs to one model: when another model loads (or the model is closed) the profile is put
   * aside, and when a model is loaded again its last profile comes back (if it still fits the model).
   */
  followModel(onDidChange: vscode.Event<ModelState>): vscode.Disposable {
    return onDidChange((s) => {
      // While loading, or after a failed load, the previous model's profile stays as it is.
      if (s.kind === 'loading' || s.kind === 'error') return;
      const loaded = s.kind === 'ready' ? s.info.path : undefined;
      if (loaded === this.modelPath) {
        // The same folder loaded again, maybe rewritten meanwhile: keep the profile only if it still fits.
        if (s.kind === 'ready' && this.active && !profileFits(this.active.profile, s.info)) this.set(undefined);
        return;
      }
      this.modelPath = loaded;
      let next: ActiveProfile | undefined;
      if (s.kind === 'ready') {
        next = this.byModel.get(s.info.path);
        if (next && !profileFits(next.profile, s.info)) {
          this.byModel.delete(s.info.path);
          next = undefined;
        }
      }
      if (next !== this.active) this.show(next);
    });
  }

  private show(p: ActiveProfile | undefined): void {
    this.active = p;
    this.changed.fire(p);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Whether a profile's layers are the model's MoE layers with its expert count (the folder may have been rewritten). */
export function profileFits(profile: ExpertProfile, info: ModelInfo): boolean {
  return (
    profile.layers.length === info.moeLayers.length &&
    profile.layers.every((l, i) => l.layer === info.moeLayers[i] && l.numExperts === info.numExperts && l.topK === info.topK)
  );
}
