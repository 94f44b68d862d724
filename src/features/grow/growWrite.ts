// What Add Experts… and Duplicate Expert share: the profile hot sources are ranked by (the current one, a new
// one, or a file), the output folder (the workspace when the model's own folder is read-only), and the write —
// the engine's addExperts job under a cancellable notification, the log, and the notification offering to
// open the grown model (then "Continue Training New Experts…" applies to it) or its report.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineRequester } from '../../operations/expertOperation';
import type { AddExpertsParams, AddExpertsResult } from '../../protocol/growProtocol';
import type { ModelInfo } from '../../protocol/modelInfo';
import { formatParams, formatScore } from '../../report/formatNumbers';
import { Commands } from '../ids';
import type { OutputLog } from '../log/outputLog';
import type { ModelManager } from '../model/modelManager';
import { showOperationError, withEngineProgress } from '../operations/engineProgress';
import type { ProfileActions } from '../operations/profileActions';
import type { ActiveProfile, ProfileStore } from '../profile/profileStore';
import { showAddExpertsReportPanel } from '../../webviews/growPreview/addExpertsReportPanel';
import { readReportJson } from '../../webviews/report/finetuneReportPanel';

export interface GrowDeps {
  readonly engine: EngineRequester;
  readonly models: ModelManager;
  readonly profiles: ProfileStore;
  readonly profileActions: ProfileActions;
  readonly extensionPath: string;
  readonly log?: OutputLog;
}

/** The profile whose routing counts rank each layer's experts: the current one, a new one, or a file. */
export async function chooseProfile(deps: GrowDeps, info: ModelInfo, title: string, why: string): Promise<ActiveProfile | undefined> {
  type Item = vscode.QuickPickItem & { action: 'current' | 'profile' | 'open' };
  const cur = deps.profiles.current;
  const items: Item[] = [];
  if (cur) {
    const d = cur.profile.data;
    items.push({ label: '$(check) Use the current profile', description: path.basename(cur.file), detail: `${d.tokens.toLocaleString('en-US')} tokens from ${d.files.length} file(s)`, action: 'current' });
  }
  items.push(
    { label: '$(pulse) Profile now…', detail: `Run ${info.name} on calibration files first (as "MoE: Profile Experts…")`, action: 'profile' },
    { label: '$(file) Open a profile file…', detail: 'A profile of this model saved earlier by MoE Workbench or its CLI', action: 'open' },
  );
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: why, ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.action === 'current') return cur;
  return pick.action === 'profile' ? deps.profileActions.profileInteractively() : deps.profileActions.open();
}

/** One line on what was written: parameters, the measured difference to the source. */
export function resultSummary(r: AddExpertsResult): string {
  const diff = r.maxAbsLogitDiff !== undefined ? `max |logit − source logit| ${formatScore(r.maxAbsLogitDiff)}` : 'difference not measured';
  return `${formatParams(r.parameters.before)} → ${formatParams(r.parameters.after)} parameters, ${formatParams(r.parameters.activeAfter)} active per token; ${diff}`;
}

/** Runs the write; then offers to open the grown model or its report. Errors are shown; undefined then. */
export async function writeGrown(deps: GrowDeps, info: ModelInfo, params: AddExpertsParams, what: string, note?: string): Promise<AddExpertsResult | undefined> {
  const { engine, log } = deps;
  log?.started('add-experts', { model: info.path, out: params.out, count: params.count, from: typeof params.from === 'string' ? params.from : params.from.list.map((s) => `${s.layer}:${s.expert}`).join(',') + (params.from.rest ? ',hot' : ''), method: params.method, ratio: params.ratio, router: params.router, profile: params.profileFile, data: params.data, seed: params.seed });
  const t0 = Date.now();
  let result: AddExpertsResult;
  try {
    result = await withEngineProgress(`MoE: Adding experts into ${path.basename(params.out)}`, (step) => engine.request('addExperts', { ...params, model: info.path }, { ...step, timeoutMs: 0 }));
  } catch (e) {
    showOperationError(`adding experts into ${params.out}`, e, log);
    return undefined;
  }
  log?.wrote(result.written);
  const summary = `${what}: ${resultSummary(result)}`;
  log?.done('add-experts', `${summary}. Function: ${result.functionPreservation.rule}. Report: ${result.reportFile}`, Date.now() - t0);
  void offerOpen(deps, result, `MoE Workbench: wrote ${result.written.dir} (${summary}).${note ? ` ${note}` : ''}`);
  return result;
}

/** The written report in the report tab: the report.json beside result.reportFile, as MoE: Open Report… draws it. */
function openGrowReport(deps: GrowDeps, result: AddExpertsResult): void {
  try {
    const { file, raw } = readReportJson(path.join(path.dirname(result.reportFile), 'report.json'));
    showAddExpertsReportPanel(raw, file);
  } catch (e) {
    showOperationError(`opening the report ${result.reportFile}`, e, deps.log);
  }
}

// Three buttons, as many as a toast shows side by side (upcycle offers two and opens its report itself); the
// folder is named in the message and the log, so Reveal gave way to Open Report.
async function offerOpen(deps: GrowDeps, result: AddExpertsResult, message: string): Promise<void> {
  const open = 'Open Model';
  const train = 'Open and Continue Training…';
  const report = 'Open Report';
  const pick = await vscode.window.showInformationMessage(message, open, train, report);
  if (pick === open || pick === train) {
    const ok = await deps.models.open(result.written.dir).then(() => true, () => false);
    if (ok && pick === train) await vscode.commands.executeCommand(Commands.continueTrainingNewExperts);
  } else if (pick === report) openGrowReport(deps, result);
}
