// The `--train` specs of the gradients command (and of training later): what they mean, checked against a
// model. Each spec must name at least one parameter of the model it is resolved against: asking for the
// routers of a dense model, or the shared experts of Mixtral, is a mistake to report, not an empty file.
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import type { ModelConfig } from '../model/modelConfig';
import { expectedTensors, expertLayout } from '../model/tensorSpec';
import { RECORD_FILE } from '../surgery/checkpointFiles';
import type { ExpertRef, TrainableSet } from './trainableSet';

export type TrainSpec =
  | { readonly kind: 'all' }
  | { readonly kind: 'experts' }
  | { readonly kind: 'routers' }
  | { readonly kind: 'shared-experts' }
  | { readonly kind: 'new-experts' }
  | { readonly kind: 'expert-list'; readonly experts: readonly ExpertRef[] };

/** What the specs accept, for messages. */
export const TRAIN_SPEC_FORMS = 'all, experts, experts=L:E,L:E,... (expert E of decoder layer L), new-experts (those moe_workbench.json records as added by upcycle or add-experts), routers, shared-experts';

/** What resolving a spec may need beyond the config. */
export interface TrainSpecContext {
  /** new-experts: per MoE layer, the expert ids the model's moe_workbench.json records as added (grow/addedExperts.ts). */
  readonly newExperts?: ReadonlyMap<number, readonly number[]> | undefined;
  /** The model folder, for messages. */
  readonly modelDir?: string;
}

/** When no spec is given. */
export const DEFAULT_TRAIN_SPECS: readonly string[] = ['experts'];

function malformed(spec: string, why: string): MoeError {
  return new MoeError('E_INPUT', `--train "${spec}": ${why}; the forms are ${TRAIN_SPEC_FORMS}`);
}

/** Syntax only; the model is not needed. Throws MoeError('E_INPUT') naming the spec. */
export function parseTrainSpec(spec: string): TrainSpec {
  const s = spec.trim();
  if (s === 'all' || s === 'experts' || s === 'routers' || s === 'shared-experts' || s === 'new-experts') return { kind: s };
  const m = /^experts=(.*)$/.exec(s);
  if (!m) throw malformed(spec, s === '' ? 'empty' : 'unknown');
  const items = m[1]!.split(',').map((x) => x.trim());
  const experts = items.map((item): ExpertRef => {
    const p = /^(\d+):(\d+)$/.exec(item);
    if (!p) throw malformed(spec, item === '' ? 'an empty item in the expert list' : `"${item}" is not L:E (two non-negative integers)`);
    const layer = Number(p[1]);
    const expert = Number(p[2]);
    if (!Number.isSafeInteger(layer) || !Number.isSafeInteger(expert)) throw malformed(spec, `"${item}" is out of range`);
    return { layer, expert };
  });
  return { kind: 'expert-list', experts };
}

/** The union of the specs, resolved against `c`. Throws MoeError('E_INPUT') naming the first spec that names nothing that exists. */
export function resolveTrainSpecs(specs: readonly string[], c: ModelConfig, ctx: TrainSpecContext = {}): TrainableSet {
  const tensors = new Set<string>();
  const experts = new Map<number, Set<number>>();
  const addExpert = (layer: number, expert: number): void => {
    let set = experts.get(layer);
    if (!set) experts.set(layer, (set = new Set()));
    set.add(expert);
  };
  const moe = moeLayers(c);
  const name = modelName(c);
  for (const text of specs.length > 0 ? specs : DEFAULT_TRAIN_SPECS) {
    const spec = parseTrainSpec(text);
    const where = `--train ${text.trim()}${specs.length === 0 ? ' (the default)' : ''}`;
    switch (spec.kind) {
      case 'all': {
        const routed = routedExpertTensors(c);
        for (const t of expectedTensors(c)) if (!routed.has(t.name)) tensors.add(t.name);
        for (const [L, E] of moe) for (let e = 0; e < E; e++) addExpert(L, e);
        break;
      }
      case 'experts':
        if (moe.length === 0) throw noMoe(where, name);
        for (const [L, E] of moe) for (let e = 0; e < E; e++) addExpert(L, e);
        break;
      case 'routers':
        if (moe.length === 0) throw noMoe(where, name);
        for (const [L] of moe) tensors.add(expertLayout(c, L).router);
        break;
      case 'shared-experts': {
        const names = sharedExpertTensors(c);
        if (names.length === 0) throw new MoeError('E_INPUT', `${where}: ${name} has no shared experts (only Qwen2-MoE-style models do); use experts, routers or all`);
        for (const n of names) tensors.add(n);
        break;
      }
      case 'new-experts': {
        const added = ctx.newExperts;
        if (!added || added.size === 0) {
          const file = ctx.modelDir !== undefined ? path.join(ctx.modelDir, RECORD_FILE) : `the model's ${RECORD_FILE}`;
          throw new MoeError('E_INPUT', `${where}: ${file} records no added experts (this model was not made by upcycle or add-experts)`);
        }
        for (const [layer, ids] of added) {
          for (const expert of ids) {
            checkExpert(where, c, layer, expert);
            addExpert(layer, expert);
          }
        }
        break;
      }
      case 'expert-list':
        for (const { layer, expert } of spec.experts) {
          checkExpert(where, c, layer, expert);
          addExpert(layer, expert);
        }
        break;
      default:
        throw new MoeError('E_INTERNAL', `unhandled train spec ${JSON.stringify(spec satisfies never)}`);
    }
  }
  return { tensors, experts };
}

/** [layer, number of routed experts] of every MoE layer. */
function moeLayers(c: ModelConfig): [number, number][] {
  const out: [number, number][] = [];
  c.layers.forEach((l, i) => {
    if (l.kind === 'moe') out.push([i, l.routing.numExperts]);
  });
  return out;
}

function modelName(c: ModelConfig): string {
  return `this model (${c.architecture})`;
}

function noMoe(where: string, name: string): MoeError {
  return new MoeError('E_INPUT', `${where}: ${name} has no MoE layers, so it has no routed experts or routers; use --train all`);
}

function checkExpert(where: string, c: ModelConfig, layer: number, expert: number): void {
  const n = c.layers.length;
  const moe = moeLayers(c).map(([L]) => L);
  const moeList = moe.length > 0 ? `MoE layers: ${moe.join(', ')}` : 'it has no MoE layers';
  if (layer >= n) throw new MoeError('E_INPUT', `${where}: layer ${layer} does not exist (the model has ${n} decoder layers, 0..${n - 1}; ${moeList})`);
  const spec = c.layers[layer]!;
  if (spec.kind === 'dense') throw new MoeError('E_INPUT', `${where}: layer ${layer} is a dense layer and has no routed experts (${moeList})`);
  const E = spec.routing.numExperts;
  if (expert >= E) throw new MoeError('E_INPUT', `${where}: expert ${expert} does not exist in layer ${layer} (it has ${E} routed experts, 0..${E - 1})`);
}

/** The Hub names of every routed-expert tensor (per-expert, or fused over experts). */
function routedExpertTensors(c: ModelConfig): Set<string> {
  const out = new Set<string>();
  for (const [L, E] of moeLayers(c)) {
    const lay = expertLayout(c, L);
    if (lay.kind === 'fused') {
      out.add(lay.gateUp);
      out.add(lay.down);
    } else {
      for (let e = 0; e < E; e++) for (const n of [lay.gate(e), lay.up(e), lay.down(e)]) out.add(n);
    }
  }
  return out;
}

/** The shared experts' tensors, with Qwen2-MoE's sigmoid gate: it scales only the shared expert's output, so it belongs to it. */
function sharedExpertTensors(c: ModelConfig): string[] {
  return expectedTensors(c)
    .map((t) => t.name)
    .filter((n) => /^model\.layers\.\d+\.mlp\.shared_expert(_gate)?\./.test(n));
}
