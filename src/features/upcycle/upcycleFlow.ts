// "MoE: Upcycle to MoE…" (issue #11 §4): with a dense llama or qwen3 model loaded, ask the method, E and K,
// the method's own settings, the router init (and the data k-means needs), the layers (Qwen3 only), then
// PREVIEW what the engine would write (families, parameters, active per token, disk size, expert sources, the
// copy guarantee), and only on "Write Checkpoint…" choose the output folder and run the engine job under a
// cancellable notification; then the report tab and "Open Upcycled Model", so annotation shows the new routing.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { UPCYCLE_DEFAULTS } from '../../engine/upcycle/upcyclePlan';
import type { EngineRequester } from '../../operations/expertOperation';
import type { UpcyclePreview, UpcycleResult, UpcycleSettings } from '../../protocol/engineProtocol';
import type { ModelInfo } from '../../protocol/modelInfo';
import { formatParams, formatScore } from '../../report/formatNumbers';
import { readReportJson } from '../../webviews/report/finetuneReportPanel';
import { UpcyclePreviewPanel } from '../../webviews/upcyclePreview/upcyclePreviewPanel';
import { showUpcycleReportPanel } from '../../webviews/upcyclePreview/upcycleReportPanel';
import { Contexts } from '../ids';
import type { OutputLog } from '../log/outputLog';
import type { ModelManager } from '../model/modelManager';
import { pickDataPaths } from '../operations/dataPicker';
import { showOperationError, withEngineProgress } from '../operations/engineProgress';
import { parseInteger, parseRatio } from '../operations/operationInputs';
import { askNewCheckpointFolder } from '../operations/outputFolder';
import { revealFile } from '../operations/profileActions';
import {
  METHOD_ITEMS,
  ROUTER_ITEMS,
  type UpcycleChoice,
  type UpcycleMethodChoice,
  canChooseLayers,
  defaultExperts,
  needsData,
  parseLayers,
  upcycleRefusal,
  upcycleSettings,
  validateChangedRatio,
  validateExperts,
  validateNoiseStd,
  validateTopK,
} from './upcycleInputs';

export interface UpcycleFlowDeps {
  readonly engine: EngineRequester;
  readonly models: ModelManager;
  readonly extensionPath: string;
  readonly log?: OutputLog;
}

const TITLE = 'MoE: Upcycle to MoE';

export class UpcycleFlow implements vscode.Disposable {
  private lastData: readonly string[] | undefined;
  private readonly sub: vscode.Disposable;

  constructor(private readonly deps: UpcycleFlowDeps) {
    // The palette and the Model view offer the command only while a dense model is loaded.
    const update = (): void => {
      const info = deps.models.info;
      void vscode.commands.executeCommand('setContext', Contexts.denseModelOpen, info !== undefined && info.moeLayers.length === 0);
    };
    this.sub = deps.models.onDidChange(update);
    update();
  }

  dispose(): void {
    this.sub.dispose();
  }

  async start(): Promise<void> {
    const info = await this.deps.models.ensureLoaded().catch(() => undefined);
    if (!info) {
      void vscode.window.showErrorMessage('MoE Workbench: no model is loaded. Open a dense llama or qwen3 model ("MoE: Open Model…") to upcycle it into an MoE.');
      return;
    }
    const refusal = upcycleRefusal(info);
    if (refusal) {
      void vscode.window.showErrorMessage(`MoE Workbench: ${refusal}`);
      return;
    }
    // The dense MLP's size (for split's E | I check) and the layer count, from the engine's own plan of E = K = 1.
    let shape: UpcyclePreview;
    try {
      shape = await this.deps.engine.request('upcyclePreview', { experts: 1, topK: 1 });
    } catch (e) {
      showOperationError(`upcycling ${info.name}`, e, this.deps.log);
      return;
    }
    const choice = await this.ask(info, shape);
    if (!choice) return;
    const settings = upcycleSettings(choice);
    let preview: UpcyclePreview;
    try {
      preview = await this.deps.engine.request('upcyclePreview', settings);
    } catch (e) {
      showOperationError(`planning the upcycling of ${info.name}`, e, this.deps.log);
      return;
    }
    await this.previewAndWrite(info, settings, preview);
  }

  private async ask(info: ModelInfo, shape: UpcyclePreview): Promise<UpcycleChoice | undefined> {
    const I = shape.denseIntermediate;
    const method = await vscode.window.showQuickPick(
      METHOD_ITEMS.map((m) => ({ label: m.label, description: m.method === 'copy' ? 'default' : '', detail: m.detail, method: m.method })),
      { title: `${TITLE} (1/4) — method`, placeHolder: `How each expert of ${info.name}'s MoE layers is made from its dense MLP (${I} neurons)`, ignoreFocusOut: true },
    );
    if (!method) return undefined;
    const m: UpcycleMethodChoice = method.method;
    const eText = await vscode.window.showInputBox({
      title: `${TITLE} (2/4) — experts per MoE layer (E)`,
      prompt: m === 'split' ? `Split: E must divide the ${I} neurons (each expert gets ${I}/E)` : 'Each MoE layer gets this many experts',
      value: String(defaultExperts(m, I)),
      validateInput: (t) => validateExperts(t, m, I),
      ignoreFocusOut: true,
    });
    if (eText === undefined) return undefined;
    const experts = parseInteger(eText)!;
    const kText = await vscode.window.showInputBox({
      title: `${TITLE} (2/4) — experts per token (top-k)`,
      prompt: `1 to ${experts}: the router sends each token to this many experts`,
      value: String(Math.min(2, experts)),
      validateInput: (t) => validateTopK(t, experts),
      ignoreFocusOut: true,
    });
    if (kText === undefined) return undefined;
    const topK = parseInteger(kText)!;

    let ratio: number | undefined;
    let noiseStd: number | undefined;
    let dropMode: UpcycleChoice['dropMode'];
    let balancedSplit = false;
    if (m === 'noise' || m === 'drop') {
      const r = await vscode.window.showInputBox({
        title: `${TITLE} (3/4) — share of each expert's neurons to ${m === 'noise' ? 'perturb' : 're-draw'}`,
        prompt: 'e.g. 0.5 or 50%',
        value: String(UPCYCLE_DEFAULTS.ratio),
        validateInput: validateChangedRatio,
        ignoreFocusOut: true,
      });
      if (r === undefined) return undefined;
      ratio = parseRatio(r)!;
    }
    if (m === 'noise') {
      const sd = await vscode.window.showInputBox({ title: `${TITLE} (3/4) — noise standard deviation`, prompt: 'σ of the N(0, σ²) added to the chosen neurons', value: String(UPCYCLE_DEFAULTS.noiseStd), validateInput: validateNoiseStd, ignoreFocusOut: true });
      if (sd === undefined) return undefined;
      noiseStd = Number(sd.trim());
    }
    if (m === 'drop') {
      const mode = await vscode.window.showQuickPick(
        [
          { label: 'Paper', description: 'default', detail: 'One index set per expert, shared by gate, up and down (the paper\'s description)', mode: 'paper' as const },
          { label: 'Reference code', detail: 'A separate index set per matrix, as the authors\' released code does', mode: 'reference-code' as const },
        ],
        { title: `${TITLE} (3/4) — which neurons are re-drawn`, ignoreFocusOut: true },
      );
      if (!mode) return undefined;
      dropMode = mode.mode;
    }
    if (m === 'split') {
      const part = await vscode.window.showQuickPick(
        [
          { label: 'Random partition', description: 'default', detail: 'A seeded random split of the neurons into equal groups', balanced: false },
          { label: 'Balanced k-means on data', detail: 'Neurons that fire together on your data go to the same expert (needs data)', balanced: true },
        ],
        { title: `${TITLE} (3/4) — how the neurons are grouped`, ignoreFocusOut: true },
      );
      if (!part) return undefined;
      balancedSplit = part.balanced;
    }
    const routerPick = await vscode.window.showQuickPick(
      ROUTER_ITEMS.map((r) => ({ label: r.label, description: r.router === 'random' ? 'default' : '', detail: r.detail, router: r.router })),
      { title: `${TITLE} (4/4) — router init`, ignoreFocusOut: true },
    );
    if (!routerPick) return undefined;
    const router = routerPick.router;
    let data: string[] | undefined;
    if (needsData({ router, method: m, balancedSplit })) {
      data = await pickDataPaths({
        title: `${TITLE} — data to cluster`,
        placeHolder: 'Text whose tokens k-means clusters: .txt, .md, source code, .jsonl with "text" or "messages"',
        openLabel: 'Cluster on These',
        dialogTitle: 'Upcycling data',
        ...(this.lastData ? { lastData: this.lastData } : {}),
      });
      if (!data || data.length === 0) return undefined;
      this.lastData = data;
    }
    let layers: UpcycleChoice['layers'] = 'all';
    if (canChooseLayers(info.modelType)) {
      const t = await vscode.window.showInputBox({
        title: `${TITLE} — layers that become MoE layers`,
        prompt: `"all", or decoder layers 0 to ${shape.numLayers - 1} (e.g. 1, 3 or 2-5); the others stay dense (Qwen3-MoE's mlp_only_layers)`,
        value: 'all',
        validateInput: (v) => {
          const r = parseLayers(v, shape.numLayers);
          return 'error' in r ? r.error : undefined;
        },
        ignoreFocusOut: true,
      });
      if (t === undefined) return undefined;
      const r = parseLayers(t, shape.numLayers);
      if ('error' in r) return undefined;
      layers = r.layers;
    }
    return { method: m, experts, topK, ...(ratio !== undefined ? { ratio } : {}), ...(noiseStd !== undefined ? { noiseStd } : {}), ...(dropMode ? { dropMode } : {}), router, balancedSplit, ...(data ? { data } : {}), layers, seed: UPCYCLE_DEFAULTS.seed };
  }

  private async previewAndWrite(info: ModelInfo, settings: UpcycleSettings, preview: UpcyclePreview): Promise<void> {
    const { engine, log } = this.deps;
    const panel = new UpcyclePreviewPanel(preview);
    const what = `${preview.source.modelType} → ${preview.target}, ${settings.experts} experts top-${settings.topK}, ${settings.method}`;
    try {
      const out = await panel.writeChoice(() => this.askOutputDir(info, settings));
      if (out === undefined) {
        log?.line(`upcycle of ${info.path}: the preview was closed without writing (${what})`);
        return;
      }
      log?.started('upcycle', { model: info.path, out, ...logSettings(settings) });
      const t0 = Date.now();
      let result: UpcycleResult;
      try {
        result = await withEngineProgress(`MoE: Upcycling into ${path.basename(out)}`, (step) => engine.request('upcycle', { ...settings, out, model: preview.source.dir }, { ...step, timeoutMs: 0 }));
      } catch (e) {
        showOperationError(`upcycling into ${out}`, e, log);
        return;
      }
      log?.wrote(result.written);
      const diff = result.maxAbsLogitDiff !== undefined ? `max |logit − dense logit| ${formatScore(result.maxAbsLogitDiff)}` : 'difference not measured';
      const summary = `${what}: ${formatParams(result.parameters.before)} → ${formatParams(result.parameters.after)} parameters, ${formatParams(result.parameters.activeAfter)} active per token; ${diff}`;
      log?.done('upcycle', `${summary}. Report: ${result.reportFile}`, Date.now() - t0);
      panel.dispose();
      try {
        const { file, raw } = readReportJson(path.join(path.dirname(result.reportFile), 'report.json'));
        showUpcycleReportPanel(raw, file);
      } catch (e) {
        showOperationError('opening the upcycling report', e, log);
      }
      const open = 'Open Upcycled Model';
      const reveal = 'Reveal in Explorer (OS)';
      const pick = await vscode.window.showInformationMessage(`MoE Workbench: wrote ${result.written.dir} (${summary}). Its report (report.html) is inside that folder.`, open, reveal);
      if (pick === open) await this.deps.models.open(result.written.dir).catch(() => undefined);
      else if (pick === reveal) await revealFile(path.join(result.written.dir, 'config.json')).catch(() => undefined);
    } finally {
      panel.dispose();
    }
  }

  private askOutputDir(info: ModelInfo, s: UpcycleSettings): Promise<string | undefined> {
    const naming = { operation: 'upcycle', method: s.method ?? UPCYCLE_DEFAULTS.method, experts: s.experts, topK: s.topK } as const;
    // Dense models often sit in read-only folders (a shared cache, fixtures): the default then goes into the workspace.
    return askNewCheckpointFolder(info, naming, this.deps.extensionPath, `${TITLE} — output folder`, 'A new folder for the MoE checkpoint (config.json, model.safetensors, tokenizer, moe_workbench.json, report). The dense model is not changed.');
  }
}

function logSettings(s: UpcycleSettings): Record<string, string | number | readonly string[] | undefined> {
  return {
    method: s.method,
    experts: s.experts,
    topK: s.topK,
    ratio: s.ratio,
    noiseStd: s.noiseStd,
    dropMode: s.dropMode,
    router: s.router,
    layers: s.layers === undefined || s.layers === 'all' ? 'all' : s.layers.join(','),
    seed: s.seed,
    data: s.data,
  };
}
