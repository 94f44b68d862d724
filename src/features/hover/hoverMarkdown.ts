// The hover of one token: its text and id, then per MoE layer its experts with gate weights (a bar each)
// and router entropy; layers where the routing is unusual (unusualRouting.ts) are marked, and what each
// mark compared against is listed under the table. Pure (markdown); untrusted text only via markdownText.
import type { ExpertOrigins } from '../../protocol/modelInfo';
import type { DocumentRouting } from '../annotation/documentRouting';
import { Commands } from '../ids';
import { originSuffix } from '../model/modelLabels';
import { codeSpan, commandUri } from './markdownText';
import { routingMarks, type RoutingBaseline } from './unusualRouting';

const BAR = 10;

export function weightBar(w: number): string {
  const n = Math.max(0, Math.min(BAR, Math.round(w * BAR)));
  return '█'.repeat(n) + '░'.repeat(BAR - n);
}

/** The command ids the hover links to: the only ones its MarkdownString may trust. */
export const HOVER_COMMANDS: readonly string[] = [Commands.selectExpert, Commands.showTokenInExplorer];

/** `origins`: a pruned or merged model's source ids, shown after each expert id ("3 (orig. 5)"). */
export function hoverMarkdown(doc: DocumentRouting, index: number, selectedLayer: number | undefined, baseline?: RoutingBaseline, origins?: ExpertOrigins): string {
  const tok = doc.tokens[index]!;
  const k = doc.topK;
  const lines: string[] = [];
  lines.push(`**${codeSpan(tok.text)}** · token id ${tok.id} · #${index} of ${doc.tokens.length}`, '');
  if (!doc.known[index]) {
    lines.push('_Routing not computed yet for this token (annotating…)._');
    return lines.join('\n');
  }
  lines.push('| layer | experts · gate weight | entropy |', '|:--|:--|--:|');
  const notes: string[] = [];
  for (const l of doc.layers) {
    const experts = Array.from({ length: k }, (_, j) => [l.experts[index * k + j]!, l.weights[index * k + j]!] as const);
    const h = l.entropy[index]!;
    const marks = routingMarks(doc, l, index, baseline);
    const name = `L${l.layer}${l.layer === selectedLayer ? ' ◂' : ''}`;
    const cells = experts.map(([e, w]) => `[**${e}**](${commandUri(Commands.selectExpert, [l.layer, e])} "Select expert ${e} of layer ${l.layer}")${originSuffix(origins, l.layer, e)} \`${weightBar(w)}\` ${w.toFixed(3)}`).join(' · ');
    lines.push(`| ${marks.length ? `⚠ **${name}**` : name} | ${cells} | ${h.toFixed(2)}${marks.length ? ` _${marks.map((m) => m.short).join('; ')}_` : ''} |`);
    for (const m of marks) notes.push(`- ⚠ L${l.layer}: ${m.detail}`);
  }
  if (notes.length) lines.push('', ...notes);
  lines.push('', `[Show in Explorer](${commandUri(Commands.showTokenInExplorer, [doc.uri, index])})`);
  return lines.join('\n');
}
