// The hover of one token: its text and id, then per MoE layer its experts with gate weights (a bar each)
// and router entropy; layers where the routing is unusual for this document stand out. Pure (markdown).
import type { DocumentRouting } from '../annotation/documentRouting';
import { Commands } from '../ids';

/** Normalised entropy above this counts as unusual (the router hesitates between many experts). */
export const HIGH_ENTROPY = 0.85;
/** A chosen expert with at most this share of its fair load (N·k/E) in the document counts as rare. */
export const LOW_LOAD = 0.5;

const BAR = 10;

export function weightBar(w: number): string {
  const n = Math.max(0, Math.min(BAR, Math.round(w * BAR)));
  return '█'.repeat(n) + '░'.repeat(BAR - n);
}

const cmd = (id: string, args: unknown[]): string => `command:${id}?${encodeURIComponent(JSON.stringify(args))}`;

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}

function visible(s: string): string {
  return s.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→');
}

export function hoverMarkdown(doc: DocumentRouting, index: number, selectedLayer: number | undefined): string {
  const tok = doc.tokens[index]!;
  const k = doc.topK;
  const E = doc.numExperts;
  const logE = Math.log(Math.max(2, E));
  const lines: string[] = [];
  lines.push(`**\`${visible(tok.text).replace(/`/g, "'")}\`** · token id ${tok.id} · #${index} of ${doc.tokens.length}`, '');
  if (!doc.known[index]) {
    lines.push('_Routing not computed yet for this token (annotating…)._');
    return lines.join('\n');
  }
  lines.push('| layer | experts · gate weight | entropy |', '|:--|:--|--:|');
  for (const l of doc.layers) {
    const loads = new Array<number>(E).fill(0);
    let n = 0;
    for (let t = 0; t < doc.tokens.length; t++) {
      if (!doc.known[t]) continue;
      n++;
      for (let j = 0; j < k; j++) loads[l.experts[t * k + j]!]!++;
    }
    const fair = (n * k) / E;
    const experts = Array.from({ length: k }, (_, j) => [l.experts[index * k + j]!, l.weights[index * k + j]!] as const);
    const h = l.entropy[index]!;
    const highEntropy = h / logE > HIGH_ENTROPY;
    const rare = experts.filter(([e]) => loads[e]! <= LOW_LOAD * fair).map(([e]) => e);
    const flags = [highEntropy ? 'high entropy' : '', rare.length ? `rare expert ${rare.join(', ')}` : ''].filter(Boolean);
    const name = `L${l.layer}${l.layer === selectedLayer ? ' ◂' : ''}`;
    const cells = experts.map(([e, w]) => `[**${e}**](${cmd(Commands.selectExpert, [l.layer, e])} "Select expert ${e} of layer ${l.layer}") \`${weightBar(w)}\` ${w.toFixed(3)}`).join(' · ');
    lines.push(`| ${flags.length ? `⚠ **${name}**` : name} | ${cells} | ${h.toFixed(2)}${flags.length ? ` _${escapeMd(flags.join('; '))}_` : ''} |`);
  }
  lines.push('', `[Show in Explorer](${cmd(Commands.showTokenInExplorer, [doc.uri, index])})`);
  return lines.join('\n');
}
