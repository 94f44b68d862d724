// The profile shown in the views and used by Prune/Merge: at most one, for the loaded model. Cleared when
// another model loads; set by "Profile Experts…" or by opening a profile file.
import * as vscode from 'vscode';
import type { ExpertProfile, ExpertStatistic } from '../../protocol/expertOps';
import type { ModelState } from '../model/modelManager';

export interface ActiveProfile {
  readonly file: string;
  readonly profile: ExpertProfile;
}

export class ProfileStore implements vscode.Disposable {
  private active: ActiveProfile | undefined;
  private stat: ExpertStatistic = 'reap';
  private sorted = true;
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

  set(p: ActiveProfile | undefined): void {
    this.active = p;
    this.changed.fire(p);
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

  /** Drops the profile when another model loads or the model is closed (a profile belongs to one model). */
  followModel(onDidChange: vscode.Event<ModelState>): vscode.Disposable {
    let path: string | undefined;
    return onDidChange((s) => {
      const loaded = s.kind === 'ready' ? s.info.path : s.kind === 'none' ? undefined : path;
      if (loaded !== path && this.active) this.set(undefined);
      path = loaded;
    });
  }

  dispose(): void {
    this.changed.dispose();
  }
}
