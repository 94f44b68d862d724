// `moe-workbench eval` as text: the two models' figures side by side, agreement and KL. Numbers are
// formatted by report/formatNumbers, the same as in the operation report.
import type { EvalReport } from '../protocol/expertOps';
import { formatBytes, formatChange, formatInteger, formatKl, formatPercent, formatPerplexity, formatSeconds } from '../report/formatNumbers';

export function evalText(r: EvalReport): string {
  const b = r.baseline;
  const c = r.candidate;
  const row = (name: string, x: string, y: string, d: string): string => `${name.padEnd(22)}${x.padStart(16)}${y.padStart(16)}${d.padStart(10)}`;
  const lines = [
    `baseline   ${b.dir}`,
    `candidate  ${c.dir}`,
    `evaluated  ${formatInteger(r.tokens)} tokens in ${formatInteger(r.chunks)} chunk${r.chunks === 1 ? '' : 's'} (${formatSeconds(r.runMs)})`,
    '',
    row('', 'baseline', 'candidate', 'change'),
    row('perplexity', formatPerplexity(b.perplexity), formatPerplexity(c.perplexity), formatChange(b.perplexity, c.perplexity)),
    row('size on disk', formatBytes(b.bytesOnDisk), formatBytes(c.bytesOnDisk), formatChange(b.bytesOnDisk, c.bytesOnDisk)),
    row('total parameters', formatInteger(b.totalParams), formatInteger(c.totalParams), formatChange(b.totalParams, c.totalParams)),
    row('active parameters', formatInteger(b.activeParams), formatInteger(c.activeParams), formatChange(b.activeParams, c.activeParams)),
    row('experts per layer', formatInteger(b.numExperts), formatInteger(c.numExperts), formatChange(b.numExperts, c.numExperts)),
    '',
    `top-1 agreement        ${formatPercent(r.top1Agreement)}`,
    `mean KL(base‖cand)     ${formatKl(r.meanKl)} nats`,
  ];
  if (r.document) {
    lines.push('', `document: ${formatInteger(r.document.tokens)} tokens, next-token prediction changed at ${formatInteger(r.document.changedPredictions)}`);
    for (const l of r.document.routingChanged) lines.push(`  layer ${l.layer}: routing changed for ${formatPercent(l.share)} of tokens`);
  }
  return lines.join('\n');
}
