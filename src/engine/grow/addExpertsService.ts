// The engine methods addExpertsPreview and addExperts (src/protocol/growProtocol.ts) on the loaded MoE: the
// request's settings become AddExpertsOptions (defaults as the CLI's), the preview is planned from the
// checkpoint's headers and a profile (hot sources), the write goes through writeAddedExperts.
import * as path from 'node:path';
import type { AddExpertsParams, AddExpertsPreview, AddExpertsResult, AddExpertsSettings, GrowAddedExpert, GrowFigures } from '../../protocol/growProtocol';
import { MoeError } from '../../protocol/moeError';
import { parameterCount } from '../../report/upcycleReport';
import type { RequestContext } from '../engineService';
import { type Checkpoint, openCheckpoint } from '../model/checkpoint';
import { ADD_EXPERTS_DEFAULTS, type AddExpertsOptions, type AddExpertsPlan, checkAddExperts, needsProfile, planAddExperts } from './addExpertsPlan';
import { functionRule } from './addExpertsRecord';
import { fileBytes, figuresOf, inactive } from './growFigures';
import { addExpertsTensors } from './addExpertsTensors';
import { profileUsage } from './growData';
import { writeAddedExperts } from './writeAddedExperts';

/** The engine's options from the request's settings (omitted ones as the CLI's defaults; paths absolute). */
export function addExpertsOptions(s: AddExpertsSettings): AddExpertsOptions {
  const d = ADD_EXPERTS_DEFAULTS;
  return {
    count: s.count,
    from: s.from,
    method: s.method ?? d.method,
    ratio: s.ratio ?? d.ratio,
    noiseStd: s.noiseStd ?? d.noiseStd,
    dropMode: s.dropMode ?? d.dropMode,
    seed: s.seed ?? d.seed,
    ...(s.router ? { router: s.router } : {}),
    ...(s.data && s.data.length > 0 ? { data: s.data.map((f) => path.resolve(f)) } : {}),
    ...(s.profileFile !== undefined ? { profileFile: path.resolve(s.profileFile) } : {}),
  };
}

const tensorBytes = (ckpt: Checkpoint): number => [...ckpt.tensors.values()].reduce((a, t) => a + t.entry.byteLength, 0);

function layersOf(p: AddExpertsPlan, usage?: ReadonlyMap<number, readonly number[]>): AddExpertsPreview['layers'] {
  return p.moeLayers.map((L) => ({
    layer: L,
    added: p.sources.get(L)!.map((s, j): GrowAddedExpert => {
      const n = s.expert !== null && s.rule === 'hot' ? usage?.get(L)?.[s.expert] : undefined;
      return { expert: p.oldExperts + j, from: s.expert, rule: s.rule, ...(n !== undefined ? { sourceTokens: n } : {}) };
    }),
  }));
}

/** What the write would make, from the loaded model's headers (no weights read) and, for hot sources, its profile. */
export function addExpertsPreview(modelDir: string, s: AddExpertsSettings): AddExpertsPreview {
  const o = addExpertsOptions(s);
  const ckpt = openCheckpoint(modelDir);
  try {
    const configFile = path.join(ckpt.dir, 'config.json');
    checkAddExperts(ckpt.config, o, configFile);
    if (needsProfile(o) && o.profileFile === undefined) {
      throw new MoeError('E_INPUT', `${configFile}: the preview of hot sources needs a profile of the model (the most-used experts of each layer): profile it first, or list the sources, or use cold`, configFile);
    }
    const usage = needsProfile(o) ? profileUsage(ckpt.dir, o.profileFile!).counts : undefined;
    const plan = planAddExperts(ckpt.config, o, configFile, usage);
    const planned = addExpertsTensors(ckpt, plan);
    const before = parameterCount([...ckpt.tensors.values()].map((t) => t.entry));
    const after = parameterCount(planned);
    const overhead = Math.max(0, fileBytes(ckpt) - tensorBytes(ckpt));
    const figures: GrowFigures = {
      parameters: { before, after, activeBefore: before - inactive(ckpt, plan, plan.oldExperts), activeAfter: after - inactive(ckpt, plan, plan.newExperts) },
      bytes: { before: fileBytes(ckpt), after: planned.reduce((a, t) => a + t.byteLength, 0) + overhead },
    };
    const from = typeof o.from === 'string' ? o.from : o.from.rest === 'hot' ? 'list+hot' : 'list';
    return {
      ...figures,
      source: { dir: ckpt.dir, name: path.basename(ckpt.dir), modelType: ckpt.config.modelType },
      settings: { count: o.count, from, method: o.method, router: plan.router, ratio: o.ratio, noiseStd: o.noiseStd, dropMode: o.dropMode, seed: o.seed, data: o.data ?? [], ...(o.profileFile !== undefined ? { profileFile: o.profileFile } : {}) },
      numLayers: ckpt.config.numLayers,
      moeLayers: plan.moeLayers,
      oldExperts: plan.oldExperts,
      newExperts: plan.newExperts,
      topK: plan.topK,
      hiddenSize: ckpt.config.hiddenSize,
      intermediate: plan.intermediate,
      changedNeurons: plan.changedNeurons,
      layers: layersOf(plan, usage),
      functionPreservation: functionRule(plan),
    };
  } finally {
    ckpt.close();
  }
}

/** Writes the loaded model `modelDir` grown by the request's experts into `out` (all at once or not at all). */
export async function addExpertsJob(modelDir: string, { out, model, evaluate, ...settings }: AddExpertsParams, ctx: RequestContext): Promise<AddExpertsResult> {
  if (model !== undefined && path.resolve(model) !== path.resolve(modelDir)) throw new MoeError('E_INPUT', `${model} was previewed for adding experts, but ${modelDir} is loaded now: preview again`, model);
  const { written, record, plan, reportFile } = await writeAddedExperts(modelDir, out, addExpertsOptions(settings), {
    evaluate: evaluate !== false,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress(p),
    pause: () => ctx.pause(),
  });
  const b = figuresOf(modelDir, plan, plan.oldExperts);
  const a = figuresOf(written.dir, plan, plan.newExperts);
  return {
    parameters: { before: b.parameters, after: a.parameters, activeBefore: b.active, activeAfter: a.active },
    bytes: { before: b.bytes, after: a.bytes },
    written,
    reportFile,
    layers: record.layers.map((l) => ({ layer: l.layer, added: l.added.map((x) => ({ ...x })) })),
    functionPreservation: record.functionPreservation,
    ...(record.evaluation ? { maxAbsLogitDiff: record.evaluation.maxAbsLogitDiff, top1Agreement: record.evaluation.top1Agreement } : {}),
  };
}
