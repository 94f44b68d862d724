// The Expert Explorer's profile section: the active profile reduced, in the host, to the chosen statistic
// per layer and expert. The profile itself (Gram matrices, token sample) never goes to the webview.
// No vscode import, so it is unit-tested in plain Node.
import * as path from 'node:path';
import { expertStatistic, STATISTIC_LABELS } from '../../engine/experts/expertStatistics';
import type { ExpertProfile, ExpertStatistic } from '../../protocol/expertOps';
import type { ExplorerProfile, ExplorerStatisticOption } from '../../protocol/explorerProtocol';

/** Short names for the statistic dropdown; STATISTIC_LABELS has the definitions. */
export const STATISTIC_NAMES: Readonly<Record<ExpertStatistic, string>> = {
  reap: 'REAP',
  frequency: 'Frequency',
  gate: 'Gate Σg',
  gateMean: 'Mean gate',
  importance: 'Softmax importance',
  ean: 'EAN',
  normMean: 'Mean ‖f(x)‖',
  maxNorm: 'Max ‖f(x)‖',
};

/** Menu order: the default (REAP) first, then as in STATISTIC_NAMES. */
export const EXPLORER_STATISTICS: readonly ExplorerStatisticOption[] = (Object.keys(STATISTIC_NAMES) as ExpertStatistic[]).map((id) => ({
  id,
  name: STATISTIC_NAMES[id],
  label: STATISTIC_LABELS[id],
}));

export function isExpertStatistic(v: unknown): v is ExpertStatistic {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(STATISTIC_NAMES, v);
}

/** What the section needs from the ProfileStore. */
export interface ProfileSource {
  readonly current: { readonly file: string; readonly profile: ExpertProfile } | undefined;
  readonly statistic: ExpertStatistic;
}

/** The state section for a profile file and statistic. Values that are not finite (JSON has no NaN) become 0. */
export function profileSection(file: string, profile: ExpertProfile, statistic: ExpertStatistic): ExplorerProfile {
  return {
    file: path.basename(file),
    path: file,
    model: profile.model.name,
    tokens: profile.data.tokens,
    documents: profile.data.documents.length,
    truncated: profile.data.truncated,
    statistic,
    statisticLabel: STATISTIC_LABELS[statistic],
    statistics: EXPLORER_STATISTICS,
    layers: profile.layers.map((l) => ({ layer: l.layer, values: expertStatistic(l, statistic).map((v) => (Number.isFinite(v) ? v : 0)) })),
  };
}

/** The section for the store's current profile and statistic, recomputed only when either changes. */
export class ProfileSectionCache {
  private key: { readonly profile: ExpertProfile; readonly file: string; readonly statistic: ExpertStatistic } | undefined;
  private section: ExplorerProfile | undefined;

  constructor(private readonly source: ProfileSource) {}

  get(): ExplorerProfile | undefined {
    const active = this.source.current;
    if (!active) {
      this.key = undefined;
      this.section = undefined;
      return undefined;
    }
    const statistic = this.source.statistic;
    const k = this.key;
    if (!k || !this.section || k.profile !== active.profile || k.file !== active.file || k.statistic !== statistic) {
      this.key = { profile: active.profile, file: active.file, statistic };
      this.section = profileSection(active.file, active.profile, statistic);
    }
    return this.section;
  }
}
