// "MoE: Prune Experts…" and "MoE: Merge Experts…": ask what to do, get a profile, plan (pure, in the
// host), PREVIEW the plan (which experts go, the impact on the calibration sample and on every open
// annotated document), and only on "Write Checkpoint…" choose the output folder and the evaluation data,
// write the checkpoint through the engine (all or nothing), evaluate it, save and open the report.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { METHOD_LABELS, METHOD_STATISTIC, STATISTIC_LABELS } from '../../engine/experts/expertStatistics';
import { planMerge } from '../../engine/experts/planMerge';
import { planPrune } from '../../engine/experts/planPrune';
import { type EngineRequester, applyAndReport, sampleImpact } from '../../operations/expertOperation';
import type { ExpertPlan, ExpertRef, OperationReport, PruneMethod, PruneTarget } from '../../protocol/expertOps';
import { PRUNE_METHODS } from '../../protocol/expertOps';
import type { ModelInfo } from '../../protocol/modelInfo';
import { PlanPreviewPanel, type TokenLocator } from '../../webviews/planPreview/planPreviewPanel';
import type { PlanPreview, PreviewSource } from '../../webviews/planPreview/planPreviewHtml';
import { showReportPanel } from '../../webviews/report/reportPanel';
import type { AnnotationController } from '../annotation/annotationController';
import { operationParams } from '../log/operationParams';
import type { OutputLog } from '../log/outputLog';
import { PROMPT_LANGUAGE } from '../ids';
import type { ModelManager } from '../model/modelManager';
import type { ActiveProfile, ProfileStore } from '../profile/profileStore';
import { documentImpact } from './documentImpact';
import { showOperationError, withEngineProgress } from './engineProgress';
import {
  type OperationNaming,
  parseInteger,
  parseProtectInput,
  parseRatio,
  validateKeep,
  validateMinPerLayer,
  validateOutputDir,
  validateRatio,
} from './operationInputs';
import { defaultOutputFolder, pathState } from './outputFolder';
import type { ProfileActions } from './profileActions';
import { revealFile } from './profileActions';

/** Where a command was started from in the Model tree. */
export interface Focus {
  readonly layer: number;
  readonly expert?: number;
}

/** A Model tree node (or nothing), as the context menu passes it. */
export function focusOf(arg: unknown, info: ModelInfo): Focus | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined;
  const n = arg as { kind?: unknown; layer?: unknown; expert?: unknown };
  if (typeof n.layer !== 'number' || !info.moeLayers.includes(n.layer)) return undefined;
  if (n.kind === 'expert' && typeof n.expert === 'number' && n.expert >= 0 && n.expert < info.numExperts) return { layer: n.layer, expert: n.expert };
  return { layer: n.layer };
}

export interface FlowDeps {
  readonly engine: EngineRequester;
  readonly models: ModelManager;
  readonly profiles: ProfileStore;
  readonly annotations: AnnotationController;
  readonly profileActions: ProfileActions;
  readonly extensionPath: string;
  /** The output channel: each operation with its parameters, the write, the evaluation, cancellations. */
  readonly log?: OutputLog;
}

interface EvalChoice {
  readonly data: readonly string[];
  readonly note?: string;
}

export class ExpertOperationFlow {
  constructor(private readonly deps: FlowDeps) {}

  async prune(arg?: unknown): Promise<void> {
    const info = await this.deps.profileActions.model();
    if (!info) return;
    const focus = focusOf(arg, info);
    const document = promptDocument();
    const method = await pickMethod();
    if (!method) return;
    const target = await pickTarget(info);
    if (!target) return;
    const protect = await askProtect(info);
    if (!protect) return;
    const profile = await this.chooseProfile(info, 'prune');
    if (!profile) return;
    let plan: ExpertPlan;
    try {
      plan = planPrune(profile.profile, { method, target, protect });
    } catch (e) {
      showOperationError('planning the pruning', e, this.deps.log);
      return;
    }
    await this.previewAndWrite(info, plan, profile, { operation: 'prune', method, target }, focus, document);
  }

  async merge(arg?: unknown): Promise<void> {
    const info = await this.deps.profileActions.model();
    if (!info) return;
    const focus = focusOf(arg, info);
    const document = promptDocument();
    const keepText = await vscode.window.showInputBox({
      title: 'MoE: Merge Experts (1/2) — experts per layer after merging',
      prompt: `Each layer's ${info.numExperts} experts are grouped by router similarity around the most used ones (MC-SMoE); each group becomes one expert.`,
      value: String(Math.max(info.topK, Math.floor(info.numExperts / 2))),
      validateInput: (v) => validateKeep(v, info, 'merge'),
      ignoreFocusOut: true,
    });
    if (keepText === undefined) return;
    const keep = parseInteger(keepText)!;
    const profile = await this.chooseProfile(info, 'merge');
    if (!profile) return;
    let plan: ExpertPlan;
    try {
      plan = planMerge(profile.profile, { keep });
    } catch (e) {
      showOperationError('planning the merge', e, this.deps.log);
      return;
    }
    await this.previewAndWrite(info, plan, profile, { operation: 'merge', keep }, focus, document);
  }

  /** The current profile, a new one, or one from a file. */
  private async chooseProfile(info: ModelInfo, operation: 'prune' | 'merge'): Promise<ActiveProfile | undefined> {
    type Item = vscode.QuickPickItem & { action: 'current' | 'profile' | 'open' };
    const cur = this.deps.profiles.current;
    const items: Item[] = [];
    if (cur) {
      const d = cur.profile.data;
      items.push({
        label: '$(check) Use the current profile',
        description: path.basename(cur.file),
        detail: `${d.tokens.toLocaleString('en-US')} tokens from ${d.files.length} file(s), chunk ${d.chunkTokens}${d.truncated ? ' (stopped at a token limit)' : ''}, ${cur.profile.createdAt.slice(0, 16).replace('T', ' ')}`,
        action: 'current',
      });
    }
    items.push(
      { label: '$(pulse) Profile now…', detail: `Run ${info.name} on calibration files first (as "MoE: Profile Experts…")`, action: 'profile' },
      { label: '$(file) Open a profile file…', detail: 'A profile saved earlier by MoE Workbench or its CLI', action: 'open' },
    );
    const pick = await vscode.window.showQuickPick(items, { title: operation === 'prune' ? 'MoE: Prune Experts (4/4) — profile' : 'MoE: Merge Experts (2/2) — profile', placeHolder: 'The expert statistics the plan is based on', ignoreFocusOut: true });
    if (!pick) return undefined;
    if (pick.action === 'current') return cur;
    return pick.action === 'profile' ? this.deps.profileActions.profileInteractively() : this.deps.profileActions.open();
  }

  private async previewAndWrite(info: ModelInfo, plan: ExpertPlan, profile: ActiveProfile, naming: OperationNaming, focus: Focus | undefined, document: PromptDocument | undefined): Promise<void> {
    const { preview, locate } = this.buildPreview(info, plan, profile, focus);
    const panel = new PlanPreviewPanel(preview, locate);
    try {
      const choice = await panel.writeChoice(async (): Promise<{ out: string; evaluation: EvalChoice } | undefined> => {
        const out = await askOutputDir(info, naming, this.deps.extensionPath);
        const evaluation = out ? await askEvaluation(profile) : undefined;
        return out && evaluation ? { out, evaluation } : undefined;
      });
      if (!choice) {
        this.deps.log?.line(`${plan.operation} of ${info.path}: the preview was closed without writing (${plan.description})`);
        return;
      }
      const { out, evaluation } = choice;
      const d = profile.profile.data;
      const log = this.deps.log;
      log?.started(plan.operation, operationParams({ model: info.path, plan, profile: profile.file, out, evalData: evaluation.data, ...(document ? { document: document.uri } : {}) }));
      const t0 = Date.now();
      let report: OperationReport;
      try {
        report = await withEngineProgress(`MoE: Writing ${path.basename(out)}`, (step) =>
          applyAndReport(this.deps.engine, plan, profile.profile, {
            ...step,
            out,
            profileFile: profile.file,
            evalData: evaluation.data,
            ...(evaluation.note ? { evalNote: evaluation.note } : {}),
            chunkTokens: d.chunkTokens,
            // A profile stopped at a token limit: evaluate on about as much, not on the whole (maybe huge) set.
            ...(d.truncated ? { maxEvalTokens: d.tokens } : {}),
            ...(document ? { document: document.text } : {}),
          }),
        );
      } catch (e) {
        showOperationError(`writing ${out}`, e, log);
        return;
      }
      log?.wrote(report.written);
      if (report.evaluation) log?.evaluated(report.evaluation);
      log?.done(plan.operation, `${describeAfter(plan)}; ${report.notes.join(' ')} Report: ${path.join(report.written.dir, 'report.html')}`, Date.now() - t0);
      panel.dispose();
      showReportPanel(report);
      const kind = plan.operation === 'prune' ? 'Pruned' : 'Merged';
      const load = `Load ${kind} Model`;
      const reveal = 'Reveal in Explorer (OS)';
      const pick = await vscode.window.showInformationMessage(`MoE Workbench: wrote ${report.written.dir} (${describeAfter(plan)}). Its report (report.html) is inside that folder.`, load, reveal);
      if (pick === load) await this.deps.models.open(report.written.dir).catch(() => undefined);
      else if (pick === reveal) await revealFile(path.join(report.written.dir, 'config.json')).catch(() => undefined);
    } finally {
      panel.dispose();
    }
  }

  private buildPreview(info: ModelInfo, plan: ExpertPlan, active: ActiveProfile, focus: Focus | undefined): { preview: PlanPreview; locate: TokenLocator } {
    const profile = active.profile;
    const sample = sampleImpact(plan, profile);
    const docs = this.deps.annotations
      .all()
      .map((r) => documentImpact(plan, r))
      .filter((x): x is NonNullable<typeof x> => x !== undefined && x.impact.tokens > 0);
    const sampleDocs = profile.data.documents;
    const sources: PreviewSource[] = [
      {
        kind: 'sample',
        label: 'Calibration sample',
        impact: sample,
        revealable: sample.worst.some((w) => sampleDocs[profile.sample.doc[w.index] ?? -1]?.line === undefined),
        ...(sample.tokens < profile.data.tokens ? { note: `the first ${sample.tokens.toLocaleString('en-US')} of the ${profile.data.tokens.toLocaleString('en-US')} profiled tokens` } : {}),
      },
      ...docs.map(
        (d): PreviewSource => ({
          kind: 'document',
          label: vscode.workspace.asRelativePath(vscode.Uri.parse(d.uri)),
          impact: d.impact,
          revealable: true,
          ...(d.unknownTokens > 0 ? { note: `${d.unknownTokens} tokens not annotated yet` } : {}),
        }),
      ),
    ];
    const statistic = plan.operation === 'prune' ? METHOD_STATISTIC[(plan.parameters as { method: PruneMethod }).method] : 'frequency';
    const preview: PlanPreview = {
      modelName: info.name,
      plan,
      statistic,
      statisticLabel: plan.operation === 'prune' ? STATISTIC_LABELS[statistic] : 'usage share (the weight of each expert in its group average)',
      profileNote: `Profile: ${profile.data.tokens.toLocaleString('en-US')} tokens from ${profile.data.files.length} file(s), chunk ${profile.data.chunkTokens}${profile.data.truncated ? ', stopped at a token limit' : ''} (${active.file}).`,
      sources,
      ...(focus ? { focus } : {}),
    };
    const locate: TokenLocator = (source, token) => {
      if (source === 0) {
        const d = sampleDocs[profile.sample.doc[token] ?? -1];
        const start = profile.sample.offset[token];
        if (!d || d.line !== undefined || start === undefined || !fs.existsSync(d.source)) return undefined;
        return { uri: vscode.Uri.file(d.source), start, end: start + (profile.sample.tokens[token]?.length ?? 0) };
      }
      const doc = docs[source - 1];
      const span = doc?.spans.get(token);
      return doc && span ? { uri: vscode.Uri.parse(doc.uri), start: span.start, end: span.end } : undefined;
    };
    return { preview, locate };
  }
}

function describeAfter(plan: ExpertPlan): string {
  const counts = [...new Set(plan.layers.map((l) => l.experts.length))];
  const before = plan.layers[0]?.numExperts ?? 0;
  return counts.length === 1 ? `${counts[0]} of ${before} experts per layer` : `${counts.join('/')} experts in its layers (of ${before})`;
}

export interface PromptDocument {
  readonly uri: string;
  readonly text: string;
}

/** The prompt the user is working on: the active editor if it is a prompt (or annotated), else a visible prompt. */
export function promptDocument(): PromptDocument | undefined {
  const isPrompt = (d: vscode.TextDocument): boolean => d.languageId === PROMPT_LANGUAGE;
  const active = vscode.window.activeTextEditor?.document;
  const doc = active && isPrompt(active) ? active : vscode.window.visibleTextEditors.map((e) => e.document).find(isPrompt);
  return doc && doc.getText().trim() !== '' ? { uri: doc.uri.toString(), text: doc.getText() } : undefined;
}

async function pickMethod(): Promise<PruneMethod | undefined> {
  const details: Record<PruneMethod, string> = {
    reap: 'Router-weighted expert activation: drops experts whose gated outputs contribute least (recommended)',
    frequency: 'Drops the experts the router selects least often',
    gate: 'Drops the experts with the least total gate weight',
    ean: 'Expert activation norm: drops the experts with the smallest summed output norm',
    importance: 'Drops the experts with the least full-softmax router probability over all tokens',
  };
  const pick = await vscode.window.showQuickPick(
    PRUNE_METHODS.map((m) => ({ label: METHOD_LABELS[m], description: m === 'reap' ? 'default' : '', detail: details[m], method: m })),
    { title: 'MoE: Prune Experts (1/4) — method', placeHolder: 'How experts are scored (the lowest scores are pruned)', ignoreFocusOut: true },
  );
  return pick?.method;
}

async function pickTarget(info: ModelInfo): Promise<PruneTarget | undefined> {
  type Kind = PruneTarget['kind'];
  const kinds: (vscode.QuickPickItem & { target: Kind })[] = [
    { label: 'Keep N experts per layer', detail: `Every layer keeps the same number (of ${info.numExperts}; at least top-k = ${info.topK})`, target: 'keep' },
    { label: 'Prune a ratio per layer', detail: 'Every layer loses the same share of its experts', target: 'ratio' },
    { label: 'Prune a global ratio', detail: 'Scores compared across layers (normalised per layer), with a minimum per layer', target: 'global' },
  ];
  const k = await vscode.window.showQuickPick(kinds, { title: 'MoE: Prune Experts (2/4) — target', ignoreFocusOut: true });
  if (!k) return undefined;
  if (k.target === 'keep') {
    const v = await vscode.window.showInputBox({
      title: 'MoE: Prune Experts (2/4) — experts to keep per layer',
      prompt: `${info.topK} (top-k) to ${info.numExperts - 1}`,
      value: String(Math.max(info.topK, info.numExperts - Math.max(1, Math.round(info.numExperts / 4)))),
      validateInput: (t) => validateKeep(t, info),
      ignoreFocusOut: true,
    });
    return v === undefined ? undefined : { kind: 'keep', keep: parseInteger(v)! };
  }
  const r = await vscode.window.showInputBox({
    title: `MoE: Prune Experts (2/4) — ${k.target === 'ratio' ? 'share of each layer' : 'share of all experts'} to prune`,
    prompt: 'e.g. 0.25 or 25%',
    value: '25%',
    validateInput: (t) => validateRatio(t, info, k.target === 'ratio' ? 'ratio' : 'global'),
    ignoreFocusOut: true,
  });
  if (r === undefined) return undefined;
  const ratio = parseRatio(r)!;
  if (k.target === 'ratio') return { kind: 'ratio', ratio };
  const m = await vscode.window.showInputBox({
    title: 'MoE: Prune Experts (2/4) — minimum experts per layer',
    prompt: `No layer keeps fewer than this (at least top-k = ${info.topK})`,
    value: String(info.topK),
    validateInput: (t) => validateMinPerLayer(t, info),
    ignoreFocusOut: true,
  });
  return m === undefined ? undefined : { kind: 'global', ratio, minPerLayer: parseInteger(m)! };
}

async function askProtect(info: ModelInfo): Promise<ExpertRef[] | undefined> {
  const v = await vscode.window.showInputBox({
    title: 'MoE: Prune Experts (3/4) — protected experts (optional)',
    prompt: 'Experts that are never pruned, as LAYER:EXPERT separated by commas. Leave empty for none.',
    placeHolder: `e.g. ${info.moeLayers[0]}:0, ${info.moeLayers[info.moeLayers.length - 1]}:${info.numExperts - 1}`,
    validateInput: (t) => {
      const r = parseProtectInput(t, info);
      return 'error' in r ? r.error : undefined;
    },
    ignoreFocusOut: true,
  });
  if (v === undefined) return undefined;
  const r = parseProtectInput(v, info);
  return 'refs' in r ? r.refs : undefined;
}

/** The new checkpoint's folder: a sibling of the model by default (the workspace for the bundled demo model). */
async function askOutputDir(info: ModelInfo, naming: OperationNaming, extensionPath: string): Promise<string | undefined> {
  const def = defaultOutputFolder(info, naming, extensionPath);
  const v = await vscode.window.showInputBox({
    title: `MoE: ${naming.operation === 'prune' ? 'Prune' : naming.operation === 'merge' ? 'Merge' : 'Fine-tune'} Experts — output folder`,
    prompt: 'A new folder for the checkpoint (config.json, model.safetensors, tokenizer, report). The source model is not changed.',
    value: def,
    valueSelection: [def.length - path.basename(def).length, def.length],
    validateInput: (t) => validateOutputDir(t, info.path, pathState),
    ignoreFocusOut: true,
  });
  return v === undefined ? undefined : path.resolve(v.trim());
}

/** Asked once per operation: what the written checkpoint is evaluated on. */
async function askEvaluation(profile: ActiveProfile): Promise<EvalChoice | undefined> {
  const files = profile.profile.data.files;
  type Item = vscode.QuickPickItem & { choice: 'calibration' | 'heldOut' | 'skip' };
  const items: Item[] = [
    { label: 'Calibration data', description: `${files.length} file(s)`, detail: 'The data the plan was made from: not held out, so the result looks better than on new text', choice: 'calibration' },
    { label: 'Pick held-out files…', detail: 'Text the profile has not seen: an honest estimate', choice: 'heldOut' },
    { label: 'Skip evaluation', detail: 'Only write the checkpoint and the plan report', choice: 'skip' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Evaluate the new checkpoint against the loaded model on:', ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.choice === 'skip') return { data: [], note: 'Evaluation skipped by the user.' };
  if (pick.choice === 'calibration') return { data: files, note: 'Evaluated on the calibration data (not held out): expect the held-out cost to be higher.' };
  const uris = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: false, canSelectMany: true, openLabel: 'Evaluate on These', title: 'Held-out evaluation data' });
  if (!uris || uris.length === 0) return undefined;
  const data = uris.map((u) => u.fsPath);
  return { data, note: `Evaluated on held-out data: ${data.map((f) => path.basename(f)).join(', ')}.` };
}
