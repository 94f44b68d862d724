// The pure parts of the Profile / Prune / Merge dialogs: validating what the user types, naming the default
// output folder, and wording engine progress. No vscode import, so all of it is unit-tested in plain Node.
import * as path from 'node:path';
import type { Progress } from '../../protocol/engineProtocol';
import type { ExpertRef, PruneMethod, PruneTarget } from '../../protocol/expertOps';

/** What the dialogs need to know about the loaded model. */
export interface ModelShape {
  readonly moeLayers: readonly number[];
  readonly numExperts: number;
  readonly topK: number;
}

/** "L:E, L:E, …" → expert references, or the reason it is not valid. Empty input = nothing protected. */
export function parseProtectInput(text: string, model: ModelShape): { refs: ExpertRef[] } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { refs: [] };
  const refs: ExpertRef[] = [];
  const seen = new Set<string>();
  for (const raw of trimmed.split(/[,;\s]+/)) {
    if (raw === '') continue;
    const m = /^(\d+):(\d+)$/.exec(raw);
    if (!m) return { error: `"${raw}" is not LAYER:EXPERT (e.g. 0:3, 2:5)` };
    const layer = Number(m[1]);
    const expert = Number(m[2]);
    if (!model.moeLayers.includes(layer)) return { error: `${raw}: layer ${layer} is not an MoE layer (MoE layers: ${formatList(model.moeLayers)})` };
    if (expert >= model.numExperts) return { error: `${raw}: experts are numbered 0..${model.numExperts - 1}` };
    const key = `${layer}:${expert}`;
    if (seen.has(key)) continue;
    seen.add(key);
    refs.push({ layer, expert });
  }
  return { refs };
}

function formatList(xs: readonly number[]): string {
  return xs.length > 8 ? `${xs.slice(0, 8).join(', ')}, …` : xs.join(', ');
}

/** An integer typed into an input box; undefined when it is not one. */
export function parseInteger(text: string): number | undefined {
  const t = text.trim().replace(/[_,](?=\d{3}\b)/g, '');
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A ratio typed as 0.25, .25 or 25%; undefined when it is not a number. */
export function parseRatio(text: string): number | undefined {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (pct) return Number(pct[1]) / 100;
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) return undefined;
  return Number(t);
}

/** Validation message for "experts to keep per layer" (prune or merge), undefined when valid. */
export function validateKeep(text: string, model: ModelShape, operation: 'prune' | 'merge' = 'prune'): string | undefined {
  const n = parseInteger(text);
  if (n === undefined) return 'Type a whole number of experts to keep per layer.';
  if (n < model.topK) return `Keep at least ${model.topK}: every token is routed to ${model.topK} experts (top-k).`;
  if (n > model.numExperts) return `The model has ${model.numExperts} experts per layer.`;
  if (n === model.numExperts) return `Keeping all ${model.numExperts} experts would not ${operation} anything.`;
  return undefined;
}

/** Validation message for a per-layer or global pruning ratio, undefined when valid. */
export function validateRatio(text: string, model: ModelShape, kind: 'ratio' | 'global'): string | undefined {
  const r = parseRatio(text);
  if (r === undefined) return 'Type the share of experts to prune, e.g. 0.25 or 25%.';
  if (!(r > 0 && r < 1)) return 'The ratio must be above 0 and below 1 (0% < ratio < 100%).';
  if (kind === 'ratio') {
    const kept = model.numExperts - Math.round(r * model.numExperts);
    if (kept < model.topK) return `Pruning ${Math.round(r * 1000) / 10}% leaves ${kept} experts per layer, fewer than the ${model.topK} each token is routed to.`;
    if (kept === model.numExperts) return `${Math.round(r * 1000) / 10}% of ${model.numExperts} experts rounds to none; prune more.`;
  }
  return undefined;
}

/** Validation message for the global target's per-layer minimum, undefined when valid. */
export function validateMinPerLayer(text: string, model: ModelShape): string | undefined {
  const n = parseInteger(text);
  if (n === undefined) return 'Type a whole number of experts.';
  if (n < model.topK) return `At least ${model.topK} (top-k) experts must stay in every layer.`;
  if (n > model.numExperts) return `The model has ${model.numExperts} experts per layer.`;
  return undefined;
}

/** Validation message for the profiling chunk length, undefined when valid. */
export function validateChunk(text: string, contextLength: number): string | undefined {
  const n = parseInteger(text);
  if (n === undefined || n < 2) return 'Type a whole number of tokens (at least 2).';
  if (n > contextLength) return `The model's context is ${contextLength} tokens; use at most that.`;
  return undefined;
}

/** Validation message for the optional token cap, undefined when valid (empty = no cap). */
export function validateMaxTokens(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  const n = parseInteger(text);
  if (n === undefined || n < 2) return 'Type a whole number of tokens (at least 2), or leave it empty for all of the data.';
  return undefined;
}

/** Short form of a target for folder names: keep6, prune25pct, global25pct-min2. */
export function targetSlug(t: PruneTarget): string {
  const pct = (r: number): string => `${String(Math.round(r * 1000) / 10).replace('.', '_')}pct`;
  if (t.kind === 'keep') return `keep${t.keep}`;
  if (t.kind === 'ratio') return `prune${pct(t.ratio)}`;
  return `global${pct(t.ratio)}-min${t.minPerLayer}`;
}

export type OperationNaming =
  | { readonly operation: 'prune'; readonly method: PruneMethod; readonly target: PruneTarget }
  | { readonly operation: 'merge'; readonly keep: number }
  | { readonly operation: 'finetune' }
  | { readonly operation: 'upcycle'; readonly method: string; readonly experts: number; readonly topK: number }
  | { readonly operation: 'add-experts'; readonly count: number; readonly from: string }
  | { readonly operation: 'duplicate'; readonly layer: number; readonly expert: number };

/** Folder name of a new checkpoint: `<model>-pruned-<method>-<target>`, `<model>-merged-keep<N>`, `<model>-finetuned` or `<model>-upcycled-<method>-e<E>k<K>`. */
export function outputFolderName(modelName: string, op: OperationNaming): string {
  const base = modelName.replace(/[\\/:*?"<>|\s]+/g, '-') || 'model';
  if (op.operation === 'finetune') return `${base}-finetuned`;
  if (op.operation === 'upcycle') return `${base}-upcycled-${op.method}-e${op.experts}k${op.topK}`;
  if (op.operation === 'add-experts') return `${base}-plus${op.count}-${op.from}`;
  if (op.operation === 'duplicate') return `${base}-dup-${op.layer}-${op.expert}`;
  return op.operation === 'prune' ? `${base}-pruned-${op.method}-${targetSlug(op.target)}` : `${base}-merged-keep${op.keep}`;
}

/**
 * The default output folder: beside the model (in `parent` when the model's own folder should not get
 * siblings, e.g. the demo model inside the extension), never the model folder itself, and not a folder that
 * already exists (a numeric suffix is added).
 */
export function defaultOutputDir(modelDir: string, op: OperationNaming, exists: (p: string) => boolean, parent: string = path.dirname(modelDir)): string {
  const name = outputFolderName(path.basename(modelDir), op);
  const src = path.resolve(modelDir);
  for (let i = 1; ; i++) {
    const candidate = path.join(parent, i === 1 ? name : `${name}-${i}`);
    if (!isInside(path.resolve(candidate), src) && !exists(candidate)) return candidate;
  }
}

export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Validation of the output folder typed by the user, undefined when valid. */
export function validateOutputDir(text: string, modelDir: string, state: (p: string) => 'missing' | 'emptyDir' | 'nonEmptyDir' | 'file'): string | undefined {
  const t = text.trim();
  if (t === '') return 'Type the folder for the new checkpoint.';
  if (!path.isAbsolute(t)) return 'Type an absolute path.';
  const out = path.resolve(t);
  const src = path.resolve(modelDir);
  if (out === src) return 'That is the source model folder; the new checkpoint goes into a new folder.';
  if (isInside(out, src)) return 'That folder is inside the source model folder; choose a folder outside it.';
  const s = state(out);
  if (s === 'file') return 'A file with that name exists; choose a new folder.';
  if (s === 'nonEmptyDir') return 'That folder exists and is not empty; choose a new folder.';
  return undefined;
}

const STAGES: Record<string, string> = { tokenise: 'Tokenising the data', profile: 'Profiling', write: 'Writing the checkpoint', evaluate: 'Evaluating', load: 'Loading' };

/**
 * A progress notification line: the stage and the engine's own message (tokens, rate, ETA). The stage is
 * left out when the notification's title already names it ("MoE: Profiling x" + "Profiling: …" read twice).
 */
export function progressMessage(p: Progress, title = ''): string {
  const stage = STAGES[p.stage] ?? p.stage;
  const detail = p.message ?? (p.total > 0 ? `${p.done} / ${p.total}` : '');
  if (detail && title.includes(stage)) return detail;
  return detail ? `${stage}: ${detail}` : stage;
}
