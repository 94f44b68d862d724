// Which decoration each token gets, for a colour mode: pure, so it is unit-testable.
import type { ColourMode } from '../../protocol/explorerProtocol';
import type { DocumentRouting } from '../annotation/documentRouting';
import { PALETTE_SIZE } from '../ids';
import { entropyBin } from './palette';

export type TokenStyle = { readonly kind: 'expert'; readonly colour: number } | { readonly kind: 'entropy'; readonly bin: number } | { readonly kind: 'selected' };

export interface StyledSpan {
  readonly start: number;
  readonly end: number;
  readonly style: TokenStyle;
}

/** One styled span per distinct token span (tokens of one character share it) with known routing. */
export function colourTokens(doc: DocumentRouting, layer: number, mode: ColourMode, selectedExpert: number | undefined): StyledSpan[] {
  const l = doc.layers.find((x) => x.layer === layer);
  if (!l) return [];
  const k = doc.topK;
  const logE = Math.log(Math.max(2, doc.numExperts));
  const out: StyledSpan[] = [];
  let lastStart = -1;
  let lastEnd = -1;
  doc.tokens.forEach((t, i) => {
    if (!doc.known[i] || t.end <= t.start || (t.start === lastStart && t.end === lastEnd)) return;
    lastStart = t.start;
    lastEnd = t.end;
    let style: TokenStyle | undefined;
    if (mode === 'expert') style = { kind: 'expert', colour: l.experts[i * k]! % PALETTE_SIZE };
    else if (mode === 'entropy') style = { kind: 'entropy', bin: entropyBin(l.entropy[i]! / logE) };
    else if (selectedExpert !== undefined) {
      for (let j = 0; j < k; j++) if (l.experts[i * k + j] === selectedExpert) style = { kind: 'selected' };
    }
    if (style) out.push({ start: t.start, end: t.end, style });
  });
  return out;
}
