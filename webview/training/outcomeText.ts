// The outcome's sentences: how the run ended, losses before → after, agreement, speed. Pure (no DOM).
import type { OutcomeView } from '../../src/protocol/trainingPanelProtocol';
import { formatChange, formatFixed, formatInteger, formatKl, formatPercent, formatPerplexity } from '../../src/report/formatNumbers';
import { formatDuration, speedText } from './format';

/** "100 steps" or "Stopped by you after step 37 of 100". */
export function stepsText(o: Pick<OutcomeView, 'steps' | 'totalSteps' | 'stopped'>): string {
  if (o.stopped) return `Stopped by you after step ${formatInteger(o.steps)} of ${formatInteger(o.totalSteps)}`;
  return `${formatInteger(o.steps)} step${o.steps === 1 ? '' : 's'}`;
}

/** "2.3456 → 1.2345 (−47.37%), perplexity 10.443 → 3.437"; undefined when either side is missing. */
export function lossChangeText(before: number | undefined, after: number | undefined): string | undefined {
  if (before === undefined || after === undefined) return undefined;
  return `${formatFixed(before, 4)} → ${formatFixed(after, 4)} (${formatChange(before, after)}), perplexity ${formatPerplexity(Math.exp(before))} → ${formatPerplexity(Math.exp(after))}`;
}

/** Next-token agreement with the base model and the mean KL, when measured. */
export function agreementText(o: Pick<OutcomeView, 'top1Agreement' | 'meanKl'>): string | undefined {
  const parts = [
    ...(o.top1Agreement !== undefined ? [`${formatPercent(o.top1Agreement)} of next-token predictions unchanged`] : []),
    ...(o.meanKl !== undefined ? [`mean KL ${formatKl(o.meanKl)} nats`] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** "1,234 tokens/s · 3 min 05 s". */
export function speedAndTimeText(o: Pick<OutcomeView, 'tokensPerSecond' | 'seconds'>): string {
  return `${speedText(o.tokensPerSecond)} · ${formatDuration(o.seconds * 1000)}`;
}

/** A share bar's width, 0–100, clamped. */
export function barPercent(share: number): number {
  return Number.isFinite(share) ? Math.max(0, Math.min(100, Math.round(share * 100))) : 0;
}
