// Full-size random-weight BF16 checkpoints at the published shapes of OLMoE-1B-7B and Qwen1.5-MoE-A2.7B
// (issue #9 §4), for the big-model benchmark. Opt-in (14 and 29 GB of disk), never part of `npm test`:
//   node --import tsx scripts/makeBenchCheckpoint.ts olmoe-1b-7b [--out DIR]
// Written as the Hub shards them: one safetensors shard per decoder layer plus one for embeddings, final
// norm and head, with model.safetensors.index.json. Each shard is streamed in chunks from a reused buffer,
// so memory stays constant whatever the model's size. The folder appears only when complete (written as
// DIR.partial, renamed at the end) and is reused when its marker matches the spec.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildByteLevelTokenizer } from '../src/devtools/byteLevelTokenizer';
import { PUBLISHED_CONFIGS, type PublishedModel } from '../src/devtools/publishedShapes';
import type { ModelConfig } from '../src/engine/model/modelConfig';
import { DEMO_MARKER_KEY } from '../src/engine/modelProvenance';
import { parseModelConfig } from '../src/engine/model/parseConfig';
import { expectedTensors, type ExpectedTensor } from '../src/engine/model/tensorSpec';

const root = path.resolve(__dirname, '..');
export const BENCH_MODELS: readonly PublishedModel[] = ['olmoe-1b-7b', 'qwen1.5-moe-a2.7b'];
const MARKER = 'moe_workbench_bench.json';
/** Elements generated per write: 16 MiB of BF16. */
const CHUNK = 8 * 2 ** 20;

export function benchCheckpointDir(name: PublishedModel): string {
  return path.join(root, '.cache', 'bench-models', name);
}

export interface BenchCheckpointOptions {
  readonly seed?: number;
  /** Called after each shard (for progress). */
  readonly onShard?: (done: number, total: number, bytes: number) => void;
}

/** Writes (or reuses) the checkpoint of `rawConfig` in `dir`; returns the resolved config. */
export function writeBenchCheckpoint(dir: string, rawConfig: Readonly<Record<string, unknown>>, opts: BenchCheckpointOptions = {}): ModelConfig {
  const seed = opts.seed ?? 1;
  const configJson = { ...rawConfig, torch_dtype: 'bfloat16', [DEMO_MARKER_KEY]: { trained: false, note: 'random weights at a published shape, for benchmarks (scripts/makeBenchCheckpoint.ts)' } };
  const config = parseModelConfig(configJson, path.join(dir, 'config.json'));
  const want = JSON.stringify({ config: configJson, seed, format: 1 });
  if (fs.existsSync(path.join(dir, MARKER)) && fs.readFileSync(path.join(dir, MARKER), 'utf8') === want) return config;
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial, { recursive: true });
  const shards = shardTensors(config);
  const names = shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  let total = 0;
  const buf = new Uint16Array(CHUNK);
  const scratch = new Float32Array(CHUNK);
  shards.forEach((tensors, i) => {
    total += writeShard(path.join(partial, names[i]!), tensors, buf, scratch, seed * 7919 + i);
    for (const t of tensors) weightMap[t.name] = names[i]!;
    opts.onShard?.(i + 1, shards.length, total);
  });
  const json = (file: string, v: unknown): void => fs.writeFileSync(path.join(partial, file), JSON.stringify(v, null, 1) + '\n');
  json('model.safetensors.index.json', { metadata: { total_size: total }, weight_map: weightMap });
  json('config.json', configJson);
  json('tokenizer.json', buildByteLevelTokenizer(tokenizerCorpus(), 500));
  json('tokenizer_config.json', { tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: config.contextLength, clean_up_tokenization_spaces: false });
  fs.writeFileSync(path.join(partial, MARKER), want);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  return config;
}

/** Embeddings, final norm and head in the first shard; then one shard per decoder layer. */
function shardTensors(c: ModelConfig): ExpectedTensor[][] {
  const shards: ExpectedTensor[][] = [[]];
  for (let L = 0; L < c.numLayers; L++) shards.push([]);
  for (const t of expectedTensors(c)) {
    const m = /^model\.layers\.(\d+)\./.exec(t.name);
    shards[m ? Number(m[1]) + 1 : 0]!.push(t);
  }
  return shards;
}

/** Streams one shard: header, then every tensor generated chunk by chunk into `buf`. Returns data bytes. */
function writeShard(file: string, tensors: readonly ExpectedTensor[], buf: Uint16Array, scratch: Float32Array, seed: number): number {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    const bytes = 2 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(header);
  text = text.padEnd(Math.ceil(text.length / 8) * 8, ' ');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  const fd = fs.openSync(file, 'w');
  try {
    writeAllSync(fd, len);
    writeAllSync(fd, Buffer.from(text));
    let state = seed >>> 0 || 1;
    for (const t of tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const { centre, halfWidth } = valueRange(t);
      for (let done = 0; done < n; done += CHUNK) {
        const k = Math.min(CHUNK, n - done);
        state = fillUniform(scratch, k, centre, halfWidth, state);
        toBf16(scratch, buf, k);
        writeAllSync(fd, new Uint8Array(buf.buffer, 0, 2 * k));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return offset;
}

function writeAllSync(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
}

/**
 * Uniform values with the spread a sensible initialiser gives (activations stay O(1) through the layers):
 * norms near 1, embeddings of unit variance, linear layers 1/sqrt(fan-in), routers 3/sqrt(fan-in) so that
 * routing is decisive, small biases. halfWidth = std·√3 for a uniform distribution.
 */
function valueRange(t: ExpectedTensor): { centre: number; halfWidth: number } {
  const fanIn = t.shape[t.shape.length - 1]!;
  if (/norm\.weight$/.test(t.name)) return { centre: 1, halfWidth: 0.1 };
  const std = t.name.endsWith('.bias') ? 0.1 : t.name === 'model.embed_tokens.weight' ? 1 : /\.mlp\.gate\.weight$|block_sparse_moe\.gate\.weight$/.test(t.name) ? 3 / Math.sqrt(fanIn) : 1 / Math.sqrt(fanIn);
  return { centre: 0, halfWidth: std * Math.sqrt(3) };
}

/** xorshift32 uniforms in [centre - w, centre + w); returns the generator state to continue from. */
function fillUniform(out: Float32Array, n: number, centre: number, w: number, state: number): number {
  let x = state;
  const scale = (2 * w) / 4294967296;
  const base = centre - w;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = base + (x >>> 0) * scale;
  }
  return x;
}

/** Float32 to BF16, rounding to nearest even (what torch's .to(bfloat16) does for finite values). */
function toBf16(src: Float32Array, dst: Uint16Array, n: number): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    dst[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

function tokenizerCorpus(): string {
  const dir = path.join(root, 'media', 'samples');
  const samples = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')) : [];
  return [...samples, 'The quick brown fox jumps over the lazy dog. Experts, routers, tokens and gates decide which expert sees which token.'].join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const name = args[0] as PublishedModel | undefined;
  if (!name || !BENCH_MODELS.includes(name)) {
    console.error(`usage: makeBenchCheckpoint.ts (${BENCH_MODELS.join(' | ')}) [--out DIR]`);
    process.exit(2);
  }
  const outAt = args.indexOf('--out');
  const dir = outAt >= 0 ? path.resolve(args[outAt + 1]!) : benchCheckpointDir(name);
  const t0 = performance.now();
  writeBenchCheckpoint(dir, PUBLISHED_CONFIGS[name], {
    onShard: (done, total, bytes) => console.log(`${name}: shard ${done}/${total}, ${(bytes / 1e9).toFixed(2)} GB, ${((performance.now() - t0) / 1000).toFixed(0)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`),
  });
  console.log(`${name}: ${dir} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
