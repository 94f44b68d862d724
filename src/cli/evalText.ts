// `moe-workbench eval` as text: the two models' figures side by side, agreement and KL.
import type { EvalReport } from '../protocol/expertOps';

const pct = (a: number, b: number): string => (a !== 0 && Number.isFinite(a) && Number.isFinite(b) ? `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)}%` : '');

export function evalText(r: EvalReport): string {
  const b = r.baseline;
  const c = r.candidate;
  const row = (name: string, x: string, y: string, d: string): string => `${name.padEnd(22)}${x.padStart(16)}${y.padStart(16)}${d.padStart(10)}`;
  const lines = [
    `baseline   ${b.dir}`,
    `candidate  ${c.dir}`,
    `evaluated  ${r.tokens} tokens in ${r.chunks} chunks (${(r.runMs / 1000).toFixed(1)} s)`,
    '',
    row('', 'baseline', 'candidate', 'change'),
    row('perplexity', b.perplexity.toFixed(3), c.perplexity.toFixed(3), pct(b.perplexity, c.perplexity)),
    row('size on disk (MB)', (b.bytesOnDisk / 1e6).toFixed(2), (c.bytesOnDisk / 1e6).toFixed(2), pct(b.bytesOnDisk, c.bytesOnDisk)),
    row('total parameters', b.totalParams.toLocaleString('en-US'), c.totalParams.toLocaleString('en-US'), pct(b.totalParams, c.totalParams)),
    row('active parameters', b.activeParams.toLocaleString('en-US'), c.activeParams.toLocaleString('en-US'), pct(b.activeParams, c.activeParams)),
    row('experts per layer', String(b.numExperts), String(c.numExperts), ''),
    '',
    `top-1 agreement        ${(r.top1Agreement * 100).toFixed(2)}%`,
    `mean KL(base‖cand)     ${r.meanKl.toExponential(3)} nats`,
  ];
  if (r.document) {
    lines.push('', `document: ${r.document.tokens} tokens, next-token prediction changed at ${r.document.changedPredictions}`);
    for (const l of r.document.routingChanged) lines.push(`  layer ${l.layer}: routing changed for ${(l.share * 100).toFixed(1)}% of tokens`);
  }
  return lines.join('\n');
}
