// TRAINING.md's "Choosing the size": the pilot runs of `npm run demo:pilot` (media/demo-model/pilot.json) as a
// table of held-out loss at equal steps, with each candidate's size and speed, and which one leads where.
import type { PilotRecord } from '../demoPilot';

export function pilotTable(p: PilotRecord): string[] {
  const evalSteps = [...new Set(p.candidates.flatMap((c) => c.evals.map(([s]) => s)))].sort((a, b) => a - b);
  // At most six columns: every k-th evaluation, always the last.
  const k = Math.max(1, Math.ceil(evalSteps.length / 6));
  const shown = evalSteps.filter((_, i) => (evalSteps.length - 1 - i) % k === 0);
  const at = (c: PilotRecord['candidates'][number], step: number): number | undefined => c.evals.find(([s]) => s === step)?.[1];
  const lines = [
    '## Choosing the size',
    '',
    `Short runs of each candidate with this recipe (same tokenizer, data, settings and held-out samples; ${p.plannedSteps} steps of ${p.batchTokens} tokens, cosine over those steps), by \`npm run demo:pilot\` (scripts/demoPilot.ts, pilot.json). Held-out loss in nats/token on \`heldout/\`; tokens/s as measured (the pilots shared the machine with other work, so compare them with each other).`,
    '',
    `| candidate | parameters | active per token | tokens/s | ${shown.map((s) => `step ${s}`).join(' | ')} |`,
    `|---|---:|---:|---:|${shown.map(() => '---:').join('|')}|`,
    ...p.candidates.map((c) => `| ${c.name}: ${c.what} | ${c.parameters.toLocaleString('en-US')} | ${c.activeParameters.toLocaleString('en-US')} | ${c.tokensPerSecond.toFixed(0)} | ${shown.map((s) => at(c, s)?.toFixed(3) ?? (s > c.steps ? `— (stopped at ${c.steps})` : '—')).join(' | ')} |`),
    '',
  ];
  // Who leads at the last evaluation every candidate reached, and at the last one overall.
  const leader = (step: number): string | undefined => {
    const have = p.candidates.filter((c) => at(c, step) !== undefined);
    if (have.length < 2) return undefined;
    const best = have.reduce((a, b) => (at(b, step)! < at(a, step)! ? b : a));
    return `at step ${step} ${have.map((c) => `${c.name} ${at(c, step)!.toFixed(3)}`).join(', ')}: ${best.name} leads`;
  };
  const common = evalSteps.filter((s) => p.candidates.every((c) => at(c, s) !== undefined)).at(-1);
  const verdicts = [common, evalSteps.at(-1)].filter((s, i, a): s is number => s !== undefined && a.indexOf(s) === i).flatMap((s) => leader(s) ?? []);
  if (verdicts.length > 0) lines.push(`Held-out loss ${verdicts.join('; ')}.`, '');
  return lines;
}
