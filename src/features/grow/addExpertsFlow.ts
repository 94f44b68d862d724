// "MoE: Add Experts…" (issue #11 §2, §4): with an MoE loaded, ask how many experts every MoE layer gets, which
// layers choose their sources (all by one rule, or — from a layer's context menu — that layer's own experts
// with the others taking their most-used ones), the sources (hot from a profile, cold, or listed), the init
// (copy / noise / drop) and the router rows (copy / random / domain on data), then PREVIEW what the engine would
// write (new ids and their sources per layer, parameters, active per token, disk size, the function rule), and
// only on "Write Checkpoint…" choose the output folder and run the engine job; then offer to open the result.
import * as vscode from 'vscode';
import { UPCYCLE_DEFAULTS } from '../../engine/upcycle/upcyclePlan';
import type { AddExpertsPreview, AddExpertsSettings } from '../../protocol/growProtocol';
import type { ModelInfo } from '../../protocol/modelInfo';
import { AddExpertsPreviewPanel } from '../../webviews/growPreview/addExpertsPreviewPanel';
import { validateChangedRatio } from '../upcycle/upcycleInputs';
import { pickDataPaths } from '../operations/dataPicker';
import { showOperationError } from '../operations/engineProgress';
import { type Focus, focusOf } from '../operations/expertOperationFlow';
import { parseInteger, parseRatio } from '../operations/operationInputs';
import { askNewCheckpointFolder } from '../operations/outputFolder';
import { chooseProfile, type GrowDeps, writeGrown } from './growWrite';
import {
  type GrowChoice,
  type GrowSourceChoice,
  growRefusal,
  growSettings,
  METHOD_ITEMS,
  needsProfile,
  parseLayerExperts,
  parseSourceList,
  routerItems,
  SOURCE_ITEMS,
  validateCount,
} from './growInputs';

const TITLE = 'MoE: Add Experts';

export class AddExpertsFlow {
  private lastData: readonly string[] | undefined;

  constructor(private readonly deps: GrowDeps) {}

  async start(arg?: unknown): Promise<void> {
    const info = await this.deps.models.ensureLoaded().catch(() => undefined);
    if (!info) {
      void vscode.window.showErrorMessage('MoE Workbench: no model is loaded. Open a Mixture-of-Experts model ("MoE: Open Model…") to add experts to it.');
      return;
    }
    const refusal = growRefusal(info);
    if (refusal) {
      void vscode.window.showErrorMessage(`MoE Workbench: ${refusal}`);
      return;
    }
    const choice = await this.ask(info, focusOf(arg, info));
    if (!choice) return;
    const settings = growSettings(choice);
    let preview: AddExpertsPreview;
    try {
      preview = await this.deps.engine.request('addExpertsPreview', settings);
    } catch (e) {
      showOperationError(`planning new experts for ${info.name}`, e, this.deps.log);
      return;
    }
    await this.previewAndWrite(info, settings, preview);
  }

  private async ask(info: ModelInfo, focus: Focus | undefined): Promise<GrowChoice | undefined> {
    const E = info.numExperts;
    const countText = await vscode.window.showInputBox({
      title: `${TITLE} (1/4) — new experts per MoE layer`,
      prompt: `Each of the ${info.moeLayers.length} MoE layers gets this many (ids ${E}, ${E + 1}, …); a Hugging Face config holds one expert count for all layers`,
      value: '1',
      validateInput: (t) => validateCount(t, E),
      ignoreFocusOut: true,
    });
    if (countText === undefined) return undefined;
    const count = parseInteger(countText)!;

    let from: GrowSourceChoice | undefined;
    if (focus && info.moeLayers.length > 1) {
      const layers = await vscode.window.showQuickPick(
        [
          { label: 'All MoE layers', detail: 'Every layer by the same rule (hot, cold or listed sources)', all: true },
          { label: `Layer ${focus.layer}`, detail: `You choose layer ${focus.layer}'s source experts; the other layers copy their most-used experts (one expert count for all layers)`, all: false },
        ],
        { title: `${TITLE} (2/4) — which layers choose their sources`, ignoreFocusOut: true },
      );
      if (!layers) return undefined;
      if (!layers.all) from = 'layer';
    }
    let list: GrowChoice['list'];
    if (from === 'layer') {
      const t = await vscode.window.showInputBox({
        title: `${TITLE} (2/4) — source experts of layer ${focus!.layer}`,
        prompt: `${count} expert number${count === 1 ? '' : 's'} of layer ${focus!.layer} (0..${E - 1}), one per new expert`,
        value: focus!.expert !== undefined ? Array.from({ length: count }, () => String(focus!.expert)).join(', ') : '',
        validateInput: (v) => {
          const r = parseLayerExperts(v, focus!.layer, E, count);
          return 'error' in r ? r.error : undefined;
        },
        ignoreFocusOut: true,
      });
      if (t === undefined) return undefined;
      const r = parseLayerExperts(t, focus!.layer, E, count);
      if ('error' in r) return undefined;
      list = r.experts.map((expert) => ({ layer: focus!.layer, expert }));
    } else {
      const src = await vscode.window.showQuickPick(
        SOURCE_ITEMS.map((s) => ({ label: s.label, description: s.from === 'hot' ? 'default' : '', detail: s.detail, from: s.from })),
        { title: `${TITLE} (2/4) — source experts`, ignoreFocusOut: true },
      );
      if (!src) return undefined;
      from = src.from;
      if (from === 'list') {
        const t = await vscode.window.showInputBox({
          title: `${TITLE} (2/4) — listed source experts`,
          prompt: `LAYER:EXPERT, ${count} for each MoE layer (${info.moeLayers.join(', ')}); new ids in list order`,
          placeHolder: info.moeLayers.map((L) => `${L}:0`).join(', '),
          validateInput: (v) => {
            const r = parseSourceList(v, info, count);
            return 'error' in r ? r.error : undefined;
          },
          ignoreFocusOut: true,
        });
        if (t === undefined) return undefined;
        const r = parseSourceList(t, info, count);
        if ('error' in r) return undefined;
        list = r.list;
      }
    }
    const source: GrowSourceChoice = from ?? 'hot';

    let method: GrowChoice['method'] = 'copy';
    let ratio: number | undefined;
    if (source !== 'cold') {
      const m = await vscode.window.showQuickPick(
        METHOD_ITEMS.map((x) => ({ label: x.label, description: x.method === 'copy' ? 'default' : '', detail: x.detail, method: x.method })),
        { title: `${TITLE} (3/4) — init of the new experts' weights`, ignoreFocusOut: true },
      );
      if (!m) return undefined;
      method = m.method;
      if (method !== 'copy') {
        const r = await vscode.window.showInputBox({
          title: `${TITLE} (3/4) — share of each new expert's neurons to ${method === 'noise' ? 'perturb' : 're-draw'}`,
          prompt: 'e.g. 0.5 or 50%',
          value: String(UPCYCLE_DEFAULTS.ratio),
          validateInput: validateChangedRatio,
          ignoreFocusOut: true,
        });
        if (r === undefined) return undefined;
        ratio = parseRatio(r)!;
      }
    }
    const routerPick = await vscode.window.showQuickPick(
      routerItems(source).map((r, i) => ({ label: r.label, description: i === 0 ? 'default' : '', detail: r.detail, router: r.router })),
      { title: `${TITLE} (4/4) — router rows of the new experts`, ignoreFocusOut: true },
    );
    if (!routerPick) return undefined;
    let data: string[] | undefined;
    if (routerPick.router === 'domain') {
      data = await pickDataPaths({
        title: `${TITLE} — domain data`,
        placeHolder: 'Text whose tokens the new experts should get: .txt, .md, source code, .jsonl with "text" or "messages"',
        openLabel: 'Use These',
        dialogTitle: 'Domain data',
        ...(this.lastData ? { lastData: this.lastData } : {}),
      });
      if (!data || data.length === 0) return undefined;
      this.lastData = data;
    }
    let profileFile: string | undefined;
    if (needsProfile(source)) {
      const why = source === 'layer' ? `The other layers copy their most-used experts: the profile's routing counts rank them` : "Each layer's most-used experts: the profile's routing counts rank them";
      const profile = await chooseProfile(this.deps, info, `${TITLE} — profile`, why);
      if (!profile) return undefined;
      profileFile = profile.file;
    }
    return { count, from: source, ...(list ? { list } : {}), method, ...(ratio !== undefined ? { ratio } : {}), router: routerPick.router, ...(data ? { data } : {}), ...(profileFile ? { profileFile } : {}) };
  }

  private async previewAndWrite(info: ModelInfo, settings: AddExpertsSettings, preview: AddExpertsPreview): Promise<void> {
    const { log } = this.deps;
    const panel = new AddExpertsPreviewPanel(preview);
    const what = `${preview.oldExperts} → ${preview.newExperts} experts per MoE layer (${preview.settings.from}, ${preview.settings.method}, router ${preview.settings.router})`;
    try {
      const out = await panel.writeChoice(() =>
        askNewCheckpointFolder(info, { operation: 'add-experts', count: settings.count, from: preview.settings.from === 'list+hot' ? 'list' : preview.settings.from }, this.deps.extensionPath, `${TITLE} — output folder`, 'A new folder for the grown checkpoint (config.json, model.safetensors, tokenizer, moe_workbench.json). The source model is not changed.'),
      );
      if (out === undefined) {
        log?.line(`add-experts on ${info.path}: the preview was closed without writing (${what})`);
        return;
      }
      await writeGrown(this.deps, info, { ...settings, out }, what);
    } finally {
      panel.dispose();
    }
  }
}
