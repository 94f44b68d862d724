// `moe-workbench profile` as text: where the profile went, what it was computed on, and per MoE layer
// each expert's frequency, mean gate, REAP, EAN and output norm, sorted by REAP.
import { expertStatistic } from '../engine/experts/expertStatistics';
import type { ExpertProfile } from '../protocol/expertOps';
import { formatInteger } from '../report/formatNumbers';

const f = (v: number, d = 4): string => (Number.isFinite(v) ? v.toFixed(d) : '-');

export function profileText(file: string, p: ExpertProfile): string {
  const lines = [
    `profile  ${file}`,
    `model    ${p.model.name} (${p.model.modelType}, identity ${p.model.sha256.slice(0, 12)})`,
    `data     ${formatInteger(p.data.files.length)} files, ${formatInteger(p.data.documents.length)} documents, ${formatInteger(p.data.tokens)} tokens in ${formatInteger(p.data.chunks)} chunks of ≤${formatInteger(p.data.chunkTokens)}${p.data.truncated ? ' (stopped at --max-tokens)' : ''}, sha256 ${p.data.sha256.slice(0, 12)}`,
    `time     ${(p.runMs / 1000).toFixed(2)} s in the engine (${formatInteger(p.data.tokens / Math.max(p.runMs / 1000, 1e-3))} tokens/s)`,
  ];
  for (const l of p.layers) {
    const freq = expertStatistic(l, 'frequency');
    const gate = expertStatistic(l, 'gateMean');
    const reap = expertStatistic(l, 'reap');
    const ean = expertStatistic(l, 'ean');
    const norm = expertStatistic(l, 'normMean');
    const imp = expertStatistic(l, 'importance');
    lines.push('', `layer ${l.layer}  (${l.numExperts} experts, top-${l.topK}, ${formatInteger(l.tokens)} tokens)`, '  expert    count   freq  gate(mean)  softmax(mean)      REAP        EAN  norm(mean)');
    const order = reap.map((_, e) => e).sort((a, b) => reap[b]! - reap[a]! || a - b);
    for (const e of order) {
      lines.push(
        `  ${String(e).padStart(6)} ${formatInteger(l.count[e]!).padStart(8)} ${f(freq[e]!, 3).padStart(6)} ${f(gate[e]!).padStart(11)} ${f(imp[e]! / Math.max(l.tokens, 1)).padStart(14)} ${f(reap[e]!).padStart(9)} ${f(ean[e]!, 2).padStart(10)} ${f(norm[e]!).padStart(11)}`,
      );
    }
  }
  return lines.join('\n');
}
