// The data preview's tokens grouped by the chat mask, so each run of prompt tokens is labelled once. Pure.
import type { PreviewToken } from '../../src/protocol/trainingPanelProtocol';

export interface MaskRun {
  readonly masked: boolean;
  readonly text: string;
}

/** Consecutive tokens with the same mask, their texts joined. */
export function maskRuns(tokens: readonly PreviewToken[]): MaskRun[] {
  const runs: { masked: boolean; text: string }[] = [];
  for (const t of tokens) {
    const last = runs[runs.length - 1];
    if (last && last.masked === t.masked) last.text += t.text;
    else runs.push({ masked: t.masked, text: t.text });
  }
  return runs;
}
