// The human-readable form of `inspect`. Numbers are formatted by report/formatNumbers, as everywhere.
import type { ModelInfo } from '../protocol/modelInfo';
import { formatBytes, formatInteger, formatParams } from '../report/formatNumbers';

export function formatInspect(i: ModelInfo): string {
  const moe = i.moeLayers.length > 0;
  const rows: [string, string][] = [
    ['model', `${i.name}  (${i.path})`],
    ['architecture', `${i.architecture} (model_type ${i.modelType})`],
    ['layers', `${i.numLayers}` + (moe ? `, MoE in ${i.moeLayers.length}: [${i.moeLayers.join(', ')}]` : ', all dense')],
    ['experts', moe ? `${i.numExperts} per MoE layer, top-${i.topK}, expert intermediate ${i.expertIntermediateSize}` + (i.sharedExpertIntermediateSize ? `, shared expert ${i.sharedExpertIntermediateSize}` : '') : 'none (dense: an upcycling source)'],
    ['routing', i.routing],
    ['attention', `${i.numHeads} heads, ${i.numKvHeads} KV heads, head_dim ${i.headDim}, hidden ${i.hiddenSize}`],
    ['vocabulary', formatInteger(i.vocabSize)],
    ['context', `${formatInteger(i.contextLength)} tokens`],
    ['parameters', `${formatParams(i.totalParams)} total, ${formatParams(i.activeParams)} active per token (${((100 * i.activeParams) / i.totalParams).toFixed(1)}%)`],
    ['dtype', i.dtypes.join(', ')],
    ['size', `${formatBytes(i.bytesOnDisk)} in ${i.files.length} file(s)`],
  ];
  // Last, so the rows above keep their place in narrow views (the e2e reads the first line).
  const m = i.memory;
  if (m) rows.push(['memory', m.reason], ['peak', `about ${formatBytes(m.estimate.peakBytes)} of the ${formatBytes(m.budgetBytes)} budget, for sequences up to ${formatInteger(m.maxTokens)} tokens`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
