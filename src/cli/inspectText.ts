// The human-readable form of `inspect`.
import type { ModelInfo } from '../protocol/modelInfo';

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

export function formatInspect(i: ModelInfo): string {
  const moe = i.moeLayers.length > 0;
  const rows: [string, string][] = [
    ['model', `${i.name}  (${i.path})`],
    ['architecture', `${i.architecture} (model_type ${i.modelType})`],
    ['layers', `${i.numLayers}` + (moe ? `, MoE in ${i.moeLayers.length}: [${i.moeLayers.join(', ')}]` : ', all dense')],
    ['experts', moe ? `${i.numExperts} per MoE layer, top-${i.topK}, expert intermediate ${i.expertIntermediateSize}` + (i.sharedExpertIntermediateSize ? `, shared expert ${i.sharedExpertIntermediateSize}` : '') : 'none (dense: an upcycling source)'],
    ['routing', i.routing],
    ['attention', `${i.numHeads} heads, ${i.numKvHeads} KV heads, head_dim ${i.headDim}, hidden ${i.hiddenSize}`],
    ['vocabulary', `${i.vocabSize}`],
    ['context', `${i.contextLength} tokens`],
    ['parameters', `${formatCount(i.totalParams)} total, ${formatCount(i.activeParams)} active per token (${((100 * i.activeParams) / i.totalParams).toFixed(1)}%)`],
    ['dtype', i.dtypes.join(', ')],
    ['size', `${formatBytes(i.bytesOnDisk)} in ${i.files.length} file(s)`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
