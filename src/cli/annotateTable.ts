// The human-readable form of a routing trace: one row per token, per MoE layer the chosen experts with
// their weights and the router entropy, plus the token's log-probability given what precedes it.
import type { RoutingTrace } from '../protocol/trace';
import { formatInteger } from '../report/formatNumbers';

const show = (s: string): string => JSON.stringify(s).slice(1, -1);

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatAnnotateTable(trace: RoutingTrace): string {
  const m = trace.model;
  const lines: string[] = [];
  const loss = trace.loss === undefined ? '' : ` · loss ${trace.loss.toFixed(4)} (perplexity ${Math.exp(trace.loss).toFixed(2)})`;
  lines.push(`${m.name} (${m.architecture}) · ${m.moeLayers.length} MoE layers × ${m.numExperts} experts, top-${m.topK} · ${formatInteger(trace.tokens.length)} tokens${loss}`);
  if (trace.layers.length === 0) lines.push(m.moeLayers.length === 0 ? 'dense model: no routing' : 'no routing captured');
  const tokenCol = Math.min(16, Math.max(5, ...trace.tokens.map((t) => show(t.text).length + 2)));
  const layerCol = Math.max(...trace.layers.map((l) => `L${l.layer}`.length), m.topK * 8 + 7);
  const head = [pad('#', 5), pad('token', tokenCol), pad('id', 7), pad('logp', 8), ...trace.layers.map((l) => pad(`L${l.layer} experts:weight  H`, layerCol))];
  lines.push(head.join(' ').trimEnd());
  trace.tokens.forEach((tok, t) => {
    const lp = t > 0 ? trace.logprobs[t - 1]!.toFixed(3) : '';
    const cells = trace.layers.map((l) => {
      const pairs = l.experts[t]!.map((e, j) => `${e}:${l.weights[t]![j]!.toFixed(2)}`).join(' ');
      return pad(`${pairs}  ${l.entropy[t]!.toFixed(2)}`, layerCol);
    });
    const text = show(tok.text);
    lines.push([pad(String(t), 5), pad(`"${text.length > tokenCol - 2 ? text.slice(0, tokenCol - 3) + '…' : text}"`, tokenCol), pad(String(tok.id), 7), pad(lp, 8), ...cells].join(' ').trimEnd());
  });
  return lines.join('\n');
}
