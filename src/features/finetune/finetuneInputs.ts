// The questions "MoE: Fine-tune Experts…" asks before the plan: what trains (ESFT on the data, the experts
// the Model tree menu was opened on, listed experts, routers, shared experts) and the ESFT threshold.
import * as vscode from 'vscode';
import { addedExperts } from '../../engine/grow/addedExperts';
import type { ModelInfo } from '../../protocol/modelInfo';
import type { Focus } from '../operations/expertOperationFlow';

export interface TrainChoice {
  readonly select?: 'esft-token' | 'esft-gate';
  readonly threshold?: number;
  /** `--train` specs beside the ESFT selection. */
  readonly specs: readonly string[];
}

type Kind = 'esft-token' | 'esft-gate' | 'focus' | 'new-experts' | 'list' | 'routers' | 'shared-experts';

/** Parses "3:1, 3:5" into `experts=3:1,3:5`; an error message for anything else. */
export function parseExpertList(text: string, info: Pick<ModelInfo, 'moeLayers' | 'numExperts'>): { spec: string } | { error: string } {
  const items = text.split(/[\s,]+/).filter((x) => x !== '');
  if (items.length === 0) return { error: 'Type at least one expert as LAYER:EXPERT, e.g. 3:1' };
  for (const it of items) {
    const m = /^(\d+):(\d+)$/.exec(it);
    if (!m) return { error: `"${it}" is not LAYER:EXPERT (e.g. 3:1)` };
    const layer = Number(m[1]);
    const expert = Number(m[2]);
    if (!info.moeLayers.includes(layer)) return { error: `${it}: layer ${layer} is not an MoE layer (MoE layers: ${info.moeLayers.join(', ')})` };
    if (expert >= info.numExperts) return { error: `${it}: layer ${layer} has experts 0..${info.numExperts - 1}` };
  }
  return { spec: `experts=${items.join(',')}` };
}

export function validateThreshold(text: string): string | undefined {
  const x = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(x) && x > 0 && x <= 1 ? undefined : 'A number in (0, 1], e.g. 0.2';
}

/** How many experts the model's moe_workbench.json records as added (by upcycle or add-experts); 0 when none or unreadable. */
function addedExpertCount(modelDir: string): number {
  try {
    return [...(addedExperts(modelDir)?.values() ?? [])].reduce((n, es) => n + es.length, 0);
  } catch {
    return 0; // a malformed record: the engine says why if the user asks for new-experts another way
  }
}

export async function pickWhatTrains(info: ModelInfo, focus: Focus | undefined): Promise<TrainChoice | undefined> {
  type Item = vscode.QuickPickItem & { what: Kind };
  const added = addedExpertCount(info.path);
  const focusLabel = focus ? (focus.expert !== undefined ? `Expert ${focus.layer}:${focus.expert}` : `Every expert of layer ${focus.layer}`) : undefined;
  const items: Item[] = [
    { label: 'ESFT-Token', description: 'recommended', detail: 'The experts your data is routed to: per layer, the fewest whose share of the tokens reaches p (default 0.2)', what: 'esft-token' },
    { label: 'ESFT-Gate', detail: 'Per layer, the fewest experts whose average gate score on your data reaches p (default 0.1)', what: 'esft-gate' },
    ...(focusLabel ? [{ label: focusLabel, detail: 'The Model tree item the menu was opened on', what: 'focus' as const }] : []),
    ...(added > 0 ? [{ label: 'New experts', description: `${added} recorded`, detail: 'The experts this model\'s upcycling or add-experts made (moe_workbench.json); add Routers to train the routing to them', what: 'new-experts' as const }] : []),
    { label: 'Listed experts…', detail: 'Type LAYER:EXPERT pairs', what: 'list' },
    { label: 'Routers', detail: 'The router (gate) of every MoE layer, with the load-balancing loss', what: 'routers' },
    ...(info.sharedExpertIntermediateSize > 0 ? [{ label: 'Shared experts', detail: 'The always-on shared expert of every MoE layer', what: 'shared-experts' as const }] : []),
  ];
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = 'MoE: Fine-tune Experts (2/3) — what trains';
  const hint = 'Pick one or more (ESFT-Token and ESFT-Gate exclude each other); you can still add or remove experts in the preview';
  qp.placeholder = hint;
  qp.canSelectMany = true;
  qp.ignoreFocusOut = true;
  qp.items = items;
  qp.selectedItems = items.filter((i) => i.what === (focusLabel ? 'focus' : added > 0 ? 'new-experts' : 'esft-token'));
  const picked = await new Promise<readonly Item[] | undefined>((resolve) => {
    let done = false;
    const finish = (v: readonly Item[] | undefined): void => {
      if (done) return;
      done = true;
      resolve(v);
      qp.dispose();
    };
    qp.onDidAccept(() => {
      const sel = qp.selectedItems;
      if (sel.length === 0) {
        qp.placeholder = '⚠ Pick at least one.';
        return;
      }
      if (sel.some((i) => i.what === 'esft-token') && sel.some((i) => i.what === 'esft-gate')) {
        qp.placeholder = '⚠ ESFT-Token and ESFT-Gate are two ways to select the same experts: pick one.';
        return;
      }
      finish(sel);
    });
    qp.onDidChangeSelection(() => (qp.placeholder = hint));
    qp.onDidHide(() => finish(undefined));
    qp.show();
  });
  if (!picked) return undefined;
  const kinds = new Set(picked.map((i) => i.what));
  const specs: string[] = [];
  if (kinds.has('focus') && focus) specs.push(focus.expert !== undefined ? `experts=${focus.layer}:${focus.expert}` : `experts=${Array.from({ length: info.numExperts }, (_, e) => `${focus.layer}:${e}`).join(',')}`);
  if (kinds.has('list')) {
    const text = await vscode.window.showInputBox({
      title: 'MoE: Fine-tune Experts — listed experts',
      prompt: 'Experts that train, as LAYER:EXPERT separated by commas',
      placeHolder: `e.g. ${info.moeLayers[0]}:0, ${info.moeLayers[info.moeLayers.length - 1]}:${info.numExperts - 1}`,
      validateInput: (t) => {
        const r = parseExpertList(t, info);
        return 'error' in r ? r.error : undefined;
      },
      ignoreFocusOut: true,
    });
    if (text === undefined) return undefined;
    const r = parseExpertList(text, info);
    if ('spec' in r) specs.push(r.spec);
  }
  if (kinds.has('new-experts')) specs.push('new-experts');
  if (kinds.has('routers')) specs.push('routers');
  if (kinds.has('shared-experts')) specs.push('shared-experts');
  const select = kinds.has('esft-token') ? 'esft-token' : kinds.has('esft-gate') ? 'esft-gate' : undefined;
  if (!select) return { specs };
  const t = await vscode.window.showInputBox({
    title: `MoE: Fine-tune Experts (3/3) — ${select === 'esft-token' ? 'ESFT-Token' : 'ESFT-Gate'} threshold p`,
    prompt: 'Per layer, the fewest experts whose cumulative score reaches p are selected (higher p: more experts)',
    value: select === 'esft-token' ? '0.2' : '0.1',
    validateInput: validateThreshold,
    ignoreFocusOut: true,
  });
  if (t === undefined) return undefined;
  return { select, threshold: Number(t.trim()), specs };
}
