// How the views name a model and its experts from what ModelInfo knows: "demo-model (untrained)" for
// random weights, and "expert 3 (orig. 5)" / "3 (orig. 5+7)" for a pruned or merged checkpoint's
// renumbered experts. Pure: no vscode import, so it is unit-tested in plain Node.
import type { ExpertOrigins, ModelInfo } from '../../protocol/modelInfo';

/** What every view adds to the name of a model whose weights were never trained. */
export const UNTRAINED = 'untrained';

/** The model's name, with "(untrained)" when its weights are random. */
export function modelDisplayName(info: Pick<ModelInfo, 'name' | 'untrained'>): string {
  return info.untrained ? `${info.name} (${UNTRAINED})` : info.name;
}

/** One sentence for tooltips about an untrained model, or undefined for a trained one. */
export function untrainedSentence(info: Pick<ModelInfo, 'untrained'>): string | undefined {
  return info.untrained ? `Untrained model (${info.untrained.note}): its routing shows structure, but not what a trained model learns. Open a real checkpoint for real routing.` : undefined;
}

/** What a view says about a model beyond its name and shape: untrained weights, renumbered experts. */
export function modelNotes(info: Pick<ModelInfo, 'untrained' | 'expertOrigins'>): string[] {
  return [untrainedSentence(info), originsSentence(info.expertOrigins)].filter((x): x is string => x !== undefined);
}

/** The ids expert `expert` of `layer` had in the source model, or undefined when the model was not pruned or merged. */
export function sourceIds(origins: ExpertOrigins | undefined, layer: number, expert: number): readonly number[] | undefined {
  return origins?.layers.find((l) => l.layer === layer)?.experts[expert];
}

/** "5" or "5+7" (a merged expert: its router row's expert first). */
export function sourceIdText(ids: readonly number[]): string {
  return ids.join('+');
}

/** " (orig. 5)" after an expert id whose source id is known (also when unchanged, so no id reads as the source's by omission); "" otherwise. */
export function originSuffix(origins: ExpertOrigins | undefined, layer: number, expert: number): string {
  const ids = sourceIds(origins, layer, expert);
  if (!ids || ids.length === 0) return '';
  return ` (orig. ${sourceIdText(ids)})`;
}

/** "Expert 5 of layer 0 in /m/src." or "Merged from experts 5+7 of layer 0 in /m/src."; undefined without origins. */
export function originLine(origins: ExpertOrigins | undefined, layer: number, expert: number): string | undefined {
  const ids = sourceIds(origins, layer, expert);
  if (!origins || !ids || ids.length === 0) return undefined;
  const where = `of layer ${layer} in ${origins.source || 'the source model'}`;
  return ids.length === 1 ? `Expert ${ids[0]} ${where}.` : `Merged from experts ${sourceIdText(ids)} ${where} (routed by expert ${ids[0]}'s router row).`;
}

/** Per expert of one layer, its source ids as text ("5", "5+7"); undefined when the model has no origins. */
export function layerOrigins(origins: ExpertOrigins | undefined, layer: number | undefined): string[] | undefined {
  const l = layer === undefined ? undefined : origins?.layers.find((x) => x.layer === layer);
  return l ? l.experts.map(sourceIdText) : undefined;
}

/** A sentence saying where the experts came from, for tooltips: "Pruned from /m/src: expert ids are renumbered …". */
export function originsSentence(origins: ExpertOrigins | undefined): string | undefined {
  if (!origins) return undefined;
  const what = origins.operation === 'merge' ? 'Merged' : 'Pruned';
  return `${what} from ${origins.source || 'another model'}: experts are renumbered; "orig." gives their ids in the source${origins.operation === 'merge' ? ' (a+b: merged from a and b)' : ''}.`;
}

/** Names, paths and notes as Markdown text: `_`, `*` and the like in a folder name stay as they are. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()<>#|!~]/g, '\\$&');
}
