// Profiling: runs the model over a calibration set in chunks, with the experts run explicitly so every
// routed expert output's norm is known, and accumulates the per-expert statistics of a profile.
import type { ExpertProfile } from '../../protocol/expertOps';
import type { ForwardResult, Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { tokeniseCalibration } from '../calibration/calibrationChunks';
import type { CalibrationSet } from '../calibration/calibrationSet';
import { throwIfCancelled } from '../engineService';
import { spillCapBytes } from '../layerwise/activationSpill';
import { layerMajorBatches, sequenceBytes } from '../layerwise/layerMajorBatches';
import type { MoeEngine } from '../moeEngine';
import { modelIdentity } from './modelIdentity';
import { LayerAccumulator } from './profileAccumulator';
import { SAMPLE_TOKENS, SampleBuilder } from './profileSample';

export interface ProfileOptions {
  /** Tokens per forward pass (documents are split into chunks of this length). */
  readonly chunkTokens: number;
  /** Stop after this many tokens (the profile records that it was truncated). */
  readonly maxTokens?: number;
  readonly sampleTokens?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  /** Awaited between chunks: the engine runs waiting queries (annotation) there. */
  readonly pause?: () => Promise<void>;
}

export async function profileExperts(engine: MoeEngine, data: CalibrationSet, opts: ProfileOptions): Promise<ExpertProfile> {
  const signal = opts.signal ?? new AbortController().signal;
  const c = engine.config;
  const layers = c.layers.flatMap((l, L) => (l.kind === 'moe' ? [new LayerAccumulator(L, l.routing.numExperts, l.routing.topK)] : []));
  if (layers.length === 0) throw new MoeError('E_INPUT', `${engine.info.name} is a dense model: it has no experts to profile`);
  if (!Number.isInteger(opts.chunkTokens) || opts.chunkTokens < 2) throw new MoeError('E_INPUT', `chunk length must be an integer >= 2, got ${opts.chunkTokens}`);
  const chunkLen = Math.min(opts.chunkTokens, c.contextLength);

  // Tokenise first (within the budget): the total makes progress and ETA honest.
  const { chunks, tokens: total, truncated } = await tokeniseCalibration(engine.tokenizer, data, chunkLen, opts.maxTokens, opts);
  if (total === 0) throw new MoeError('E_INPUT', `the calibration set has no chunk of 2 or more tokens (${data.documents.length} documents)`);

  const identity = modelIdentity(engine.info.path);
  const sample = new SampleBuilder(opts.sampleTokens ?? SAMPLE_TOKENS, layers.map((l) => l.topK));
  const t0 = performance.now();
  let runMs = 0;
  let done = 0;
  // Layer-major when weights are converted or read per layer: each layer is prepared once per batch.
  const capture = { routing: true, hidden: false, logits: false, expertNorms: true };
  // Beyond the memory allowance a batch spills activations to disk; each result is consumed as it comes.
  const batches = engine.prefersLayerMajor ? layerMajorBatches(chunks, (ch) => sequenceBytes(c, ch.spans.length), engine.layerMajorBatchBytes + spillCapBytes()) : chunks.map((ch) => [ch]);
  for (const batch of batches) {
    await opts.pause?.();
    throwIfCancelled(signal);
    const ids = batch.map((ch) => ch.spans.map((s) => s.id));
    const consume = (j: number, res: ForwardResult): void => {
      const chunk = batch[j]!;
      runMs += res.runMs;
      res.routing.forEach((r, i) => layers[i]!.add(r));
      if (!sample.full) sample.add(chunk.doc, chunk.spans, res.routing);
      done += chunk.spans.length;
    };
    if (batch.length === 1) consume(0, await engine.forward(ids[0]!, capture));
    else await engine.forwardEach(ids, capture, consume, { signal });
    const elapsed = (performance.now() - t0) / 1000;
    const eta = done < total ? ` · ETA ${Math.ceil((elapsed / done) * (total - done))} s` : '';
    opts.onProgress?.({ stage: 'profile', done, total, message: `${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} tokens · ${Math.round(done / Math.max(elapsed, 1e-3))} tok/s${eta}` });
  }
  return {
    format: 'moe-workbench.profile',
    version: 1,
    createdAt: new Date().toISOString(),
    model: identity,
    data: {
      files: [...data.files],
      documents: data.documents.map((d) => (d.line === undefined ? { source: d.source } : { source: d.source, line: d.line })),
      sha256: data.sha256,
      chunkTokens: chunkLen,
      chunks: chunks.length,
      tokens: total,
      truncated,
    },
    runMs,
    layers: layers.map((l) => l.result()),
    sample: sample.result(),
  };
}
