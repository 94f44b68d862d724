// npm run demo: the bundled demo model (trained by the project itself: media/demo-model/TRAINING.md) annotates
// one sample prompt per domain through the CLI, then summarises which experts each domain's tokens go to in
// every layer — computed from the routing traces of those prompts.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const model = join('media', 'demo-model');
const cli = (args, opts = {}) => execFileSync(process.execPath, [join('dist', 'cli.js'), ...args], { maxBuffer: 256 << 20, ...opts });
const run = (args) => cli(args, { stdio: 'inherit' });
run(['inspect', '--model', model]);
const prompts = readdirSync(join('media', 'samples'))
  .filter((f) => f.endsWith('.prompt'))
  .sort();
const summary = [];
for (const f of prompts) {
  const file = join('media', 'samples', f);
  console.log(`\n=== ${file}`);
  run(['annotate', '--model', model, '--file', file]);
  const trace = JSON.parse(cli(['annotate', '--model', model, '--file', file, '--json']).toString('utf8'));
  summary.push({ name: f.replace(/\.prompt$/, ''), tokens: trace.tokens.length, loss: trace.loss, layers: trace.layers.map((l) => top1Shares(l.experts, trace.model.numExperts)) });
}

/** Experts by how many of the prompt's tokens chose them first, most first. */
function top1Shares(experts, numExperts) {
  const counts = new Array(numExperts).fill(0);
  for (const chosen of experts) counts[chosen[0]]++;
  return counts
    .map((n, e) => ({ e, share: n / experts.length }))
    .filter((x) => x.share > 0)
    .sort((a, b) => b.share - a.share || a.e - b.e);
}

const layers = summary[0]?.layers.length ?? 0;
const cell = (shares) =>
  shares
    .slice(0, 2)
    .map((x) => `${x.e} ${Math.round(100 * x.share)}%`.padEnd(7))
    .join(' ');
console.log('\n=== Which experts each prompt uses: the two most frequent top-1 experts per layer (share of the prompt\'s tokens)\n');
console.log(['prompt'.padEnd(11), 'tokens', 'loss ', ...Array.from({ length: layers }, (_, i) => `layer ${i}`.padEnd(15))].join(' '));
for (const s of summary) console.log([s.name.padEnd(11), String(s.tokens).padStart(6), (s.loss ?? NaN).toFixed(2), ...s.layers.map((l) => cell(l).padEnd(15))].join(' '));
console.log('\nloss: mean next-token cross-entropy (nats). Hover tokens in VS Code (MoE: Annotate Editor) to see every token\'s experts.');
