// npm run demo:report — measures the demo model written by `npm run demo:train` and writes what it found
// (issue #12): media/demo-model/training.json (the figures, including each committed held-out sample's loss,
// which test/engine/demoModel.test.ts recomputes), loss.svg (the training curve) and TRAINING.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOMAINS } from './demo/corpusSources';
import { DEMO_SHAPE, DEMO_TOKENIZER, DEMO_TRAINING } from './demo/demoRecipe';
import { type DomainStats, measureDomains } from './demo/domainStats';
import { lossCurveSvg, type LossPoint } from './demo/lossCurveSvg';
import { pilotTable } from './demo/pilotTable';
import { PILOT_FILE, type PilotRecord } from './demoPilot';
import { MoeEngine } from '../src/engine/moeEngine';

const root = path.resolve(__dirname, '..');
const modelDir = path.join(root, 'media', 'demo-model');
const work = path.join(root, '.cache', 'demo-train');
const corpus = path.join(root, '.cache', 'demo-corpus');
const MAX_TOKENS = Number(process.env.DEMO_REPORT_TOKENS ?? 65536);

interface TrainLine {
  step?: number;
  loss?: number;
  evalLoss?: number;
  tokensPerSecond?: number;
  summary?: { steps: number; seconds: number; tokensPerSecond: number; trainableParameters: number; stoppedAt?: number };
}

/** Loss of each committed held-out sample (one sequence each), as the test recomputes it. */
export async function sampleLosses(dir: string): Promise<Record<string, { tokens: number; loss: number }>> {
  const engine = await MoeEngine.load(dir);
  try {
    const out: Record<string, { tokens: number; loss: number }> = {};
    for (const d of DOMAINS) {
      const text = fs.readFileSync(path.join(dir, 'heldout', `${d}.txt`), 'utf8');
      const ids = engine.tokenizer.encode(text).map((t) => t.id);
      const r = await engine.forward(ids, { routing: false, hidden: false, logits: false });
      out[d] = { tokens: ids.length, loss: r.loss };
    }
    return out;
  } finally {
    await engine.dispose();
  }
}

function heldOut(): { domain: string; docs: string[] }[] {
  return DOMAINS.map((domain) => ({
    domain,
    docs: fs
      .readFileSync(path.join(corpus, 'heldout', `${domain}.jsonl`), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { text: string }).text),
  }));
}

const topExperts = (counts: readonly number[], n = 3): string => {
  const total = counts.reduce((a, b) => a + b, 0);
  return [...counts.keys()]
    .sort((a, b) => counts[b]! - counts[a]! || a - b)
    .slice(0, n)
    .map((e) => `${e} (${Math.round((100 * counts[e]!) / total)}%)`)
    .join(', ');
};

function trainingMd(lines: TrainLine[], trained: DomainStats, random: DomainStats, samples: Record<string, { tokens: number; loss: number }>, pilot?: PilotRecord): string {
  const summary = lines.find((l) => l.summary)?.summary;
  const steps = lines.filter((l) => l.step !== undefined);
  const evals = steps.filter((l) => l.evalLoss !== undefined);
  const tokens = steps.length * DEMO_TRAINING.batchTokens;
  const s = DEMO_SHAPE;
  const f = (x: number, d = 3): string => x.toFixed(d);
  return [
    '# How the demo model was trained',
    '',
    'Written by `npm run demo:report` (scripts/demoReport.ts) from the run of `npm run demo:train`; do not edit.',
    '',
    '## Configuration',
    '',
    `- Mixtral layout (\`MixtralForCausalLM\`): ${s.numLayers} layers, hidden ${s.hiddenSize}, ${s.numHeads} attention heads (${s.numKvHeads} key/value), ${s.numExperts} experts of intermediate size ${s.intermediateSize}, top-${s.topK}; ${summary?.trainableParameters?.toLocaleString('en-US') ?? '?'} parameters, stored as BF16.`,
    `- Tokenizer: byte-level BPE with ${DEMO_TOKENIZER.vocabSize} tokens (256 bytes, ${DEMO_TOKENIZER.vocabSize - 256 - DEMO_TOKENIZER.specialTokens.length} merges, \`${DEMO_TOKENIZER.specialTokens.join('`, `')}\`) learnt on the training split by \`buildByteLevelTokenizer\` (src/devtools/byteLevelTokenizer.ts).`,
    `- Initialisation: Hugging Face's (weights normal(0, 0.02), norms 1), seed ${s.seed}.`,
    `- Training: \`moe-workbench finetune --train all\`, AdamW (β 0.9/0.95, ε 1e-8), learning rate ${DEMO_TRAINING.lr} with ${DEMO_TRAINING.warmup} warm-up steps and a ${DEMO_TRAINING.schedule} schedule, weight decay ${DEMO_TRAINING.weightDecay} on matrices, gradient clipping ${DEMO_TRAINING.gradClip}, load-balancing loss × ${DEMO_TRAINING.auxLossCoef}, sequences of ${DEMO_TRAINING.seqLen} tokens, ${DEMO_TRAINING.batchTokens} tokens per step, seed ${DEMO_TRAINING.seed}. Data: DATA.md.`,
    `- ${steps.length} steps, ${(tokens / 1e6).toFixed(2)} M training tokens${summary?.stoppedAt ? ` (stopped at step ${summary.stoppedAt})` : ''}, ${summary ? `${(summary.seconds / 60).toFixed(1)} minutes, ${summary.tokensPerSecond.toFixed(0)} tokens/s` : ''} on 2 CPU cores (AVX-512).`,
    '',
    '## Loss',
    '',
    '![training loss](loss.svg)',
    '',
    `Training loss (mean over each step's tokens, including ${DEMO_TRAINING.auxLossCoef} × the load-balancing loss) and held-out loss on the committed samples in \`heldout/\` (${evals.length} evaluations). Last step: ${f(steps.at(-1)?.loss ?? NaN)}; last held-out: ${f(evals.at(-1)?.evalLoss ?? NaN)} nats/token.`,
    '',
    `## Held-out results per domain (up to ${MAX_TOKENS} tokens of each domain's held-out split, chunks of 512 tokens)`,
    '',
    '| domain | tokens | nats/token | perplexity | bits/char | random init bits/char | committed sample: tokens, loss |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...trained.domains.map((d, i) => `| ${d.domain} | ${d.tokens} | ${f(d.loss)} | ${f(Math.exp(d.loss), 1)} | ${f(d.bitsPerChar)} | ${f(random.domains[i]!.bitsPerChar)} | ${samples[d.domain]!.tokens}, ${f(samples[d.domain]!.loss, 5)} |`),
    '',
    '## Expert specialisation',
    '',
    `Mutual information between a token's domain and its top-1 expert, over ${trained.miTokens} held-out tokens of each of the ${trained.domains.length} domains (at most log2 ${trained.domains.length} = ${f(Math.log2(trained.domains.length))} bits), next to the same figure for the model before training (same shape and initialisation). Balance over all measured tokens (top-${s.topK} load): CV = std/mean, MaxVio = (max − mean)/mean.`,
    '',
    '| layer | MI trained (bits) | MI random init (bits) | CV | MaxVio |',
    '|---:|---:|---:|---:|---:|',
    ...trained.moeLayers.map((l, i) => `| ${l} | ${f(trained.mutualInformation[i]!)} | ${f(random.mutualInformation[i]!)} | ${f(trained.balance[i]!.cv)} | ${f(trained.balance[i]!.maxVio)} |`),
    '',
    'Most-used experts (share of top-1 choices) per domain and layer:',
    '',
    `| domain | ${trained.moeLayers.map((l) => `layer ${l}`).join(' | ')} |`,
    `|---|${trained.moeLayers.map(() => '---').join('|')}|`,
    ...trained.domains.map((d) => `| ${d.domain} | ${d.top1.map((c) => topExperts(c)).join(' | ')} |`),
    '',
    ...(pilot ? pilotTable(pilot) : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const lines = fs
    .readFileSync(path.join(work, 'train.log'), 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as TrainLine];
      } catch {
        return [];
      }
    });
  const texts = heldOut();
  console.log('measuring the trained model…');
  const trained = await measureDomains(modelDir, texts, { maxTokens: MAX_TOKENS });
  console.log('measuring the random initialisation…');
  const random = await measureDomains(path.join(work, 'init'), texts, { maxTokens: MAX_TOKENS });
  const samples = await sampleLosses(modelDir);
  const points: LossPoint[] = lines.filter((l) => l.step !== undefined).map((l) => ({ step: l.step!, loss: l.loss!, ...(l.evalLoss === undefined ? {} : { evalLoss: l.evalLoss }) }));
  fs.writeFileSync(path.join(modelDir, 'loss.svg'), lossCurveSvg(points));
  const summary = lines.find((l) => l.summary)?.summary;
  const record = {
    steps: points.length,
    tokens: points.length * DEMO_TRAINING.batchTokens,
    seconds: summary?.seconds,
    tokensPerSecond: summary?.tokensPerSecond,
    samples,
    domains: trained.domains.map((d, i) => ({ domain: d.domain, tokens: d.tokens, loss: d.loss, bitsPerChar: d.bitsPerChar, randomBitsPerChar: random.domains[i]!.bitsPerChar, top1: d.top1 })),
    moeLayers: trained.moeLayers,
    miTokens: trained.miTokens,
    mutualInformation: trained.mutualInformation,
    randomMutualInformation: random.mutualInformation,
    balance: trained.balance,
  };
  fs.writeFileSync(path.join(modelDir, 'training.json'), JSON.stringify(record, null, 1) + '\n');
  const pilot = fs.existsSync(PILOT_FILE) ? (JSON.parse(fs.readFileSync(PILOT_FILE, 'utf8')) as PilotRecord) : undefined;
  fs.writeFileSync(path.join(modelDir, 'TRAINING.md'), trainingMd(lines, trained, random, samples, pilot));
  for (const d of record.domains) console.log(`${d.domain.padEnd(10)} ${d.bitsPerChar.toFixed(3)} bits/char (random init ${d.randomBitsPerChar.toFixed(3)})`);
  console.log(`MI(domain; top-1) per layer: ${trained.mutualInformation.map((x) => x.toFixed(3)).join(' ')} bits (random init ${random.mutualInformation.map((x) => x.toFixed(3)).join(' ')})`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
