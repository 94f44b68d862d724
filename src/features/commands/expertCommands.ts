// Profiling, pruning and merging experts (issue #4), and the profile statistic the views show.
import * as vscode from 'vscode';
import { STATISTIC_LABELS } from '../../engine/experts/expertStatistics';
import type { ExpertStatistic } from '../../protocol/expertOps';
import { readReport, showReportPanel } from '../../webviews/report/reportPanel';
import { isFinetuneReport, readReportJson, showFinetuneReportPanel } from '../../webviews/report/finetuneReportPanel';
import { isAddExpertsReport, showAddExpertsReportPanel } from '../../webviews/growPreview/addExpertsReportPanel';
import { isUpcycleReport, showUpcycleReportPanel } from '../../webviews/upcyclePreview/upcycleReportPanel';
import { Commands } from '../ids';
import { STATISTIC_SHORT } from '../modelTree/expertProfileText';
import { showOperationError } from '../operations/engineProgress';
import type { FinetuneFlow } from '../finetune/finetuneFlow';
import type { ExpertOperationFlow } from '../operations/expertOperationFlow';
import type { ProfileActions } from '../operations/profileActions';
import type { ProfileStore } from '../profile/profileStore';
import type { Command } from './command';

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? v : typeof v === 'string' ? [v] : undefined);

export class ProfileExpertsCommand implements Command {
  readonly id = Commands.profileExperts;
  constructor(private readonly actions: ProfileActions) {}
  /** Optional argument: the calibration paths (skips the data picker). */
  async execute(data?: unknown): Promise<void> {
    await this.actions.profileInteractively(strings(data));
  }
}

export class OpenProfileCommand implements Command {
  readonly id = Commands.openProfile;
  constructor(private readonly actions: ProfileActions) {}
  async execute(file?: unknown): Promise<void> {
    await this.actions.open(typeof file === 'string' ? file : undefined);
  }
}

const STATISTICS = Object.keys(STATISTIC_LABELS) as ExpertStatistic[];

export class SelectProfileStatisticCommand implements Command {
  readonly id = Commands.selectProfileStatistic;
  constructor(private readonly profiles: ProfileStore) {}

  async execute(stat?: unknown): Promise<void> {
    if (typeof stat === 'string' && (STATISTICS as string[]).includes(stat)) return this.profiles.setStatistic(stat as ExpertStatistic);
    type Item = vscode.QuickPickItem & { stat?: ExpertStatistic; sort?: boolean };
    const current = this.profiles.statistic;
    const sorted = this.profiles.sortByStatistic;
    const items: Item[] = [
      ...STATISTICS.map((s): Item => ({ label: STATISTIC_SHORT[s], description: s === current ? 'shown' : '', detail: STATISTIC_LABELS[s], stat: s })),
      { label: '', kind: vscode.QuickPickItemKind.Separator },
      sorted
        ? { label: '$(list-ordered) Sort experts by id', detail: 'The Model tree lists experts 0, 1, 2, …', sort: false }
        : { label: `$(sort-precedence) Sort experts by ${STATISTIC_SHORT[current]}`, detail: 'The Model tree lists the highest first', sort: true },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'MoE: Show Profile Statistic', placeHolder: 'What the Model tree shows (and sorts by) for each expert' });
    if (!pick) return;
    if (pick.stat) this.profiles.setStatistic(pick.stat);
    if (pick.sort !== undefined) this.profiles.setSortByStatistic(pick.sort);
    if (!this.profiles.current) {
      const b = await vscode.window.showInformationMessage('MoE Workbench: no profile is loaded; the statistic shows once one is.', 'Profile Experts…', 'Open Profile…');
      if (b) await vscode.commands.executeCommand(b === 'Open Profile…' ? Commands.openProfile : Commands.profileExperts);
    }
  }
}

export class PruneExpertsCommand implements Command {
  readonly id = Commands.pruneExperts;
  constructor(private readonly flow: ExpertOperationFlow) {}
  /** Optional argument: the Model tree node (layer or expert) the menu was opened on. */
  async execute(node?: unknown): Promise<void> {
    await this.flow.prune(node).catch((e: unknown) => showOperationError('pruning', e));
  }
}

export class MergeExpertsCommand implements Command {
  readonly id = Commands.mergeExperts;
  constructor(private readonly flow: ExpertOperationFlow) {}
  async execute(node?: unknown): Promise<void> {
    await this.flow.merge(node).catch((e: unknown) => showOperationError('merging', e));
  }
}

export class FineTuneExpertsCommand implements Command {
  readonly id = Commands.fineTuneExperts;
  constructor(private readonly flow: FinetuneFlow) {}
  /** Optional argument: the Model tree node (layer or expert) the menu was opened on. */
  async execute(node?: unknown): Promise<void> {
    await this.flow.start(node).catch((e: unknown) => showOperationError('fine-tuning', e));
  }
}

export class OpenReportCommand implements Command {
  readonly id = Commands.openReport;

  /** Optional argument: a checkpoint folder or its report.json. */
  async execute(target?: unknown): Promise<void> {
    let p = typeof target === 'string' ? target : target instanceof vscode.Uri ? target.fsPath : undefined;
    if (!p) {
      const uris = await vscode.window.showOpenDialog({
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: false,
        openLabel: 'Open Report',
        title: 'A checkpoint or adapter folder written by MoE Workbench, or its report.json',
        ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
      });
      p = uris?.[0]?.fsPath;
    }
    if (!p) return;
    try {
      // Fine-tuning, upcycling and add-experts reports have their own pages; prune and merge reports share reportHtml.
      const { file, raw } = readReportJson(p);
      if (isFinetuneReport(raw)) showFinetuneReportPanel(raw, file);
      else if (isUpcycleReport(raw)) showUpcycleReportPanel(raw, file);
      else if (isAddExpertsReport(raw)) showAddExpertsReportPanel(raw, file);
      else showReportPanel(readReport(file));
    } catch (e) {
      showOperationError(`opening the report ${p}`, e);
    }
  }
}
