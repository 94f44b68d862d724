// Where a fine-grained MoE prefill spends its time, per ONNX op type: the whole-model decoder graph of each
// shape of fineGrainedCheckpoints.ts, profiled by ONNX Runtime at 128 and 1,024 tokens; the marginal column
// (1,024 minus 128) is what the benchmark's marginal tokens/s measures. Random weights (same scales as the
// benchmark checkpoints, layers of one shape sharing buffers to halve the memory), fed as the engine feeds them.
// node --import tsx scripts/bench/profileOps.ts [shape name...]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildDecoderGraph } from '../../src/engine/graph/decoderGraph';
import { parseModelConfig } from '../../src/engine/model/parseConfig';
import { encodeModel } from '../../src/engine/onnx/onnxProto';
import { type FeedTensor, OrtSession } from '../../src/engine/runtime/ortSession';
import { fineGrainedShapes } from './fineGrainedCheckpoints';

const TOKENS = [128, 1024] as const;

interface TraceEvent {
  readonly cat: string;
  readonly name: string;
  readonly ts: number;
  readonly dur: number;
  readonly args?: { readonly op_name?: string };
}

function randomWeight(name: string, dims: readonly number[]): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const fanIn = dims[dims.length - 1]!;
  const [mean, std] = /norm\.weight$/.test(name) ? [1, 0.05] : /\.mlp\.gate\.weight$/.test(name) ? [0, 3 / Math.sqrt(fanIn)] : name.endsWith('.bias') ? [0, 0.3] : name.includes('embed_tokens') ? [0, 1] : [0, 1 / Math.sqrt(fanIn)];
  const a = new Float32Array(n);
  const w = std * Math.sqrt(12);
  for (let i = 0; i < n; i++) a[i] = mean + w * (Math.random() - 0.5);
  return a;
}

/** Milliseconds per op type for each run of the trace, in run order. */
function perOpType(trace: readonly TraceEvent[]): Map<string, number>[] {
  const runs = trace.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  return runs.map((r) => {
    const m = new Map<string, number>();
    for (const e of trace) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < r.ts || e.ts > r.ts + r.dur) continue;
      const op = e.args?.op_name ?? '?';
      m.set(op, (m.get(op) ?? 0) + e.dur / 1000);
    }
    m.set('(whole run)', r.dur / 1000);
    return m;
  });
}

async function profileShape(shape: (typeof fineGrainedShapes)[number]): Promise<string> {
  const c = parseModelConfig(shape.config, `${shape.name}/config.json`);
  const graph = buildDecoderGraph(c, { routing: false, hidden: false, logits: false });
  const dimsOf = new Map(graph.weights.map((w) => [w.name, [...w.dims]]));
  const bytes = encodeModel(graph.build());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-profile-'));
  const s = await OrtSession.create(bytes, { profileFilePrefix: path.join(dir, 'trace') });
  const shared = new Map<string, Float32Array>();
  const weights: Record<string, FeedTensor> = {};
  for (const name of s.inputNames) {
    if (name === 'input_ids') continue;
    const dims = dimsOf.get(name);
    if (!dims) throw new Error(`internal: ${name} is not a weight of the graph`);
    const key = `${name.replace(/^model\.layers\.\d+\./, '')}|${dims.join(',')}`;
    if (!shared.has(key)) shared.set(key, randomWeight(name, dims));
    weights[name] = { type: 'float32', data: shared.get(key)!, dims };
  }
  const feeds = (T: number): Record<string, FeedTensor> => ({ ...weights, input_ids: { type: 'int64', data: BigInt64Array.from({ length: T }, (_, i) => BigInt((i * 7919 + 13) % c.vocabSize)), dims: [T] } });
  // Warm-up, then two measured rounds alternating the token counts; the faster of each is kept.
  const order = [...TOKENS, ...TOKENS, ...TOKENS];
  for (const T of order) await s.run(feeds(T));
  s.endProfiling();
  await s.release();
  const file = fs.readdirSync(dir).find((f) => f.startsWith('trace'));
  const trace = JSON.parse(fs.readFileSync(path.join(dir, file!), 'utf8')) as TraceEvent[];
  fs.rmSync(dir, { recursive: true, force: true });
  const runs = perOpType(trace);
  const best = TOKENS.map((_, j) => {
    const mine = runs.filter((_, i) => i >= TOKENS.length && i % TOKENS.length === j);
    return mine.reduce((a, b) => ((a.get('(whole run)') ?? 0) <= (b.get('(whole run)') ?? 0) ? a : b));
  });
  const [short, long] = best as [Map<string, number>, Map<string, number>];
  const ops = [...long.keys()].sort((a, b) => (long.get(b) ?? 0) - (short.get(b) ?? 0) - ((long.get(a) ?? 0) - (short.get(a) ?? 0)));
  const marginalTotal = (long.get('(whole run)') ?? 0) - (short.get('(whole run)') ?? 0);
  const lines = [`${shape.name}: ms per op type at ${TOKENS[0]} and ${TOKENS[1]} tokens, marginal (share of the marginal run time)`];
  for (const op of ops) {
    const m = (long.get(op) ?? 0) - (short.get(op) ?? 0);
    if (Math.abs(m) < 0.005 * marginalTotal) continue; // below 0.5%: noise
    lines.push(`  ${op.padEnd(16)} ${(short.get(op) ?? 0).toFixed(1).padStart(8)} ${(long.get(op) ?? 0).toFixed(1).padStart(8)} ${m.toFixed(1).padStart(8)} (${((100 * m) / marginalTotal).toFixed(0)}%)`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  const wanted = process.argv.slice(2);
  const shapes = wanted.length ? fineGrainedShapes.filter((s) => wanted.includes(s.name)) : fineGrainedShapes;
  (async () => {
    for (const shape of shapes) console.log(await profileShape(shape));
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
