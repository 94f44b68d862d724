// The protocol's methods implemented on a MoeEngine. One model is loaded at a time.
import * as path from 'node:path';
import type { EngineMethod, EngineMethods, PromptInput, TokenSpan, UpcycleFigures, UpcyclePreview, UpcycleSettings } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';
import type { EngineService, EngineWorkerData, RequestContext } from './engineService';
import { throwIfCancelled } from './engineService';
import { readCalibrationSet } from './calibration/calibrationSet';
import { operationRecord } from './experts/operationRecord';
import { checkProfileModel, readProfile, reusableProfile, writeProfileSomewhere } from './experts/profileFile';
import { profilePaths } from './experts/profilePaths';
import { modelIdentity } from './experts/modelIdentity';
import { profileExperts } from './experts/profileExperts';
import { evaluateModels } from './evaluation/evaluateModels';
import { evaluationChunks } from './evaluation/evaluationChunks';
import { exportOnnx } from './exportOnnx';
import { runFinetune } from './finetune/finetuneJob';
import { finetunePlan } from './finetune/finetunePlan';
import { openCheckpoint } from './model/checkpoint';
import { MoeEngine } from './moeEngine';
import { writeExpertPlan } from './surgery/writeExpertPlan';
import { computeGradients } from './training/computeGradients';
import { checkGradientsOut, LONGEST_JSON_NUMBER, streamGradientsFile } from './training/gradientsFile';
import { trainSpecContext } from './grow/addedExperts';
import { addExpertsJob, addExpertsPreview } from './grow/addExpertsService';
import { DEFAULT_TRAIN_SPECS, resolveTrainSpecs } from './training/trainSpec';
import type { Checkpoint } from './model/checkpoint';
import { planUpcycle, ROUTER_STD, UPCYCLE_DEFAULTS, type UpcycleOptions, type UpcyclePlan } from './upcycle/upcyclePlan';
import { upcycleTensors } from './upcycle/upcycleTensors';
import { writeUpcycled } from './upcycle/writeUpcycled';
import { parameterCount, upcycleFigures } from '../report/upcycleReport';
import { fileBytes } from './grow/growFigures';
import { inactiveOf, upcycleReportFiles } from './upcycle/upcycleReportFiles';

/** Longest text a `tokenize` request takes (the extension annotates at most 2,000,000 characters). */
export const MAX_TOKENIZE_CHARS = 4_000_000;

type Handlers = { [M in EngineMethod]: (params: EngineMethods[M]['params'], ctx: RequestContext) => Promise<EngineMethods[M]['result']> };

export class MoeEngineService implements EngineService {
  private engine: MoeEngine | undefined;
  /** The budget of the last load, used again for its restore and for evaluation candidates. */
  private memoryBudget: number | undefined;

  constructor(private readonly data: EngineWorkerData = {}) {}

  private readonly handlers: Handlers = {
    load: async ({ modelDir, memoryBudget }, ctx) => {
      // A model that is refused must not cost the one that works: check the folder, config and weight
      // headers while the current model stays loaded; only then make room for the new weights.
      openCheckpoint(modelDir).close();
      const previous = this.engine?.info.path;
      const previousBudget = this.memoryBudget;
      await this.unloadEngine();
      this.memoryBudget = memoryBudget;
      try {
        this.engine = await MoeEngine.load(modelDir, this.loadOptions(ctx));
      } catch (e) {
        this.memoryBudget = previousBudget;
        throw await this.restore(previous, MoeError.from(e));
      }
      return this.engine.info;
    },
    inspect: async () => this.loaded().info,
    tokenize: async ({ text }) => {
      const engine = this.loaded();
      // Tokenising is linear in the text but its memory is ~150 bytes a character: bound it before starting.
      if (text.length > MAX_TOKENIZE_CHARS) throw new MoeError('E_INPUT', `the text has ${text.length.toLocaleString('en-US')} characters; the engine tokenises at most ${MAX_TOKENIZE_CHARS.toLocaleString('en-US')} at once: split it or select a part`);
      return engine.tokenizer.encode(text);
    },
    forward: async ({ input, capture }, ctx) => {
      const engine = this.loaded();
      const tokens = this.tokens(engine, input);
      throwIfCancelled(ctx.signal);
      ctx.progress({ stage: 'forward', done: 0, total: tokens.length, message: `running ${tokens.length} tokens` });
      const result = await engine.forward(
        tokens.map((t) => t.id),
        capture,
      );
      throwIfCancelled(ctx.signal);
      return { tokens, result };
    },
    exportOnnx: async ({ outDir }, ctx) => exportOnnx(this.loaded(), outDir, (p) => ctx.progress(p)),
    profile: async ({ data, chunkTokens, maxTokens, out, outDir, reuse }, ctx) => {
      const engine = this.loaded();
      const set = readCalibrationSet(data);
      const modelSha = modelIdentity(engine.info.path).sha256;
      const id = { modelDir: engine.info.path, modelSha256: modelSha, dataSha256: set.sha256, chunkTokens: Math.min(chunkTokens, engine.config.contextLength), maxTokens };
      const candidates = profilePaths(id, { out, outDir });
      if (reuse) {
        for (const file of candidates) {
          const cached = reusableProfile(file, modelSha, set.sha256, maxTokens);
          if (cached) return { file, profile: cached };
        }
      }
      const profile = await profileExperts(engine, set, { chunkTokens, ...(maxTokens !== undefined ? { maxTokens } : {}), signal: ctx.signal, onProgress: (p) => ctx.progress(p), pause: () => ctx.pause() });
      throwIfCancelled(ctx.signal);
      const file = await writeProfileSomewhere(candidates, profile);
      return { file, profile };
    },
    readProfile: async ({ file }) => {
      const engine = this.loaded();
      const profile = readProfile(file);
      checkProfileModel(profile, modelIdentity(engine.info.path), file);
      return profile;
    },
    applyPlan: async ({ plan, out, profileFile }, ctx) => {
      const engine = this.loaded();
      const profile = profileFile !== undefined ? readProfile(profileFile) : undefined;
      const source = modelIdentity(engine.info.path);
      if (profile && profileFile) checkProfileModel(profile, source, profileFile);
      const record = operationRecord(plan, source, profile && profileFile ? { file: profileFile, profile } : undefined);
      // The record as written: it points at the profile's copy inside the checkpoint and lists skipped files.
      return writeExpertPlan(engine.info.path, plan, out, record, { signal: ctx.signal, onProgress: (p) => ctx.progress(p), pause: () => ctx.pause() });
    },
    evaluate: async ({ candidateDir, data, chunkTokens, maxTokens, document, expertMap }, ctx) => {
      const baseline = this.loaded();
      const chunks = evaluationChunks(baseline, readCalibrationSet(data), chunkTokens, maxTokens);
      const candidate = await MoeEngine.load(candidateDir, { ...this.loadOptions(), signal: ctx.signal });
      try {
        return await evaluateModels(baseline, candidate, chunks, {
          signal: ctx.signal,
          pause: () => ctx.pause(),
          onProgress: (p) => ctx.progress(p),
          ...(document !== undefined ? { document } : {}),
          ...(expertMap ? { expertMap: new Map(expertMap) } : {}),
        });
      } finally {
        await candidate.dispose();
      }
    },
    gradients: async ({ input, train, auxLossCoef, outFile }, ctx) => {
      const engine = this.loaded();
      // Everything that can be refused is refused before the (long) computation.
      const trainable = resolveTrainSpecs(train, engine.config, trainSpecContext(engine.info.path, train));
      if (auxLossCoef !== undefined && !(Number.isFinite(auxLossCoef) && auxLossCoef >= 0)) throw new MoeError('E_INPUT', `the aux-loss coefficient must be a finite number >= 0, got ${auxLossCoef}`);
      checkGradientsOut(outFile);
      const tokens = this.tokens(engine, input);
      const ids = tokens.map((t) => t.id);
      const V = engine.config.vocabSize;
      const bad = ids.findIndex((i) => !Number.isInteger(i) || i < 0 || i >= V);
      if (bad >= 0) throw new MoeError('E_INPUT', `token id ${ids[bad]} (position ${bad}) is outside the vocabulary of ${V} tokens (ids 0..${V - 1})`);
      if (ids.length < 2) throw new MoeError('E_INPUT', `the prompt has ${ids.length} token${ids.length === 1 ? '' : 's'}; a next-token loss needs at least 2`);
      const coef = auxLossCoef ?? 0;
      const about = { model: engine.info.path, train: train.length > 0 ? train : DEFAULT_TRAIN_SPECS, auxLossCoef: coef, tokens: ids.length };
      const metadata = (lmLoss: number): Record<string, string> => ({ moe_workbench: JSON.stringify({ ...about, lmLoss }) });
      const file = path.resolve(outFile);
      let g: Awaited<ReturnType<typeof computeGradients>> | undefined;
      // Each gradient goes to the file as its layer's backward finishes: memory holds a layer's, not all.
      // The header is sized for the longest lmLoss, known only at the end. Cancellation is checked before
      // each write; waiting queries are not let in (ctx.pause) in the middle of the backward, whose layer
      // state they were never checked against.
      const tensors = await streamGradientsFile(file, engine.config, trainable, metadata(LONGEST_JSON_NUMBER), async (write) => {
        g = await computeGradients(engine, ids, {
          trainable,
          auxLossCoef: coef,
          signal: ctx.signal,
          onProgress: (p) => ctx.progress(p),
          onGradient: async (name, grad) => {
            throwIfCancelled(ctx.signal);
            await write(name, grad);
          },
        });
        throwIfCancelled(ctx.signal);
        await ctx.pause();
        return { loss: g.loss, auxLoss: g.auxLoss, metadata: metadata(g.lmLoss) };
      });
      if (!g) throw new MoeError('E_INTERNAL', 'the gradients file was written without a gradient computation');
      return { file, loss: g.loss, auxLoss: g.auxLoss, lmLoss: g.lmLoss, tensors, tokens };
    },
    finetune: async (params, ctx) => runFinetune(this.loaded(), params, ctx),
    finetunePlan: async (params, ctx) => finetunePlan(this.loaded(), params, ctx),
    upcyclePreview: async (params) => {
      // The source is the loaded dense model: its folder's headers are read again, no weights.
      const ckpt = openCheckpoint(this.loaded().info.path);
      try {
        const plan = planUpcycle(ckpt.config, upcycleOptions(params), path.join(ckpt.dir, 'config.json'));
        return upcyclePreviewOf(ckpt, plan);
      } finally {
        ckpt.close();
      }
    },
    upcycle: async ({ out, evaluate, model, ...settings }, ctx) => {
      // writeUpcycled reads the source tensor by tensor; its evaluation loads the dense and the new model one
      // after the other beside the loaded one, so no more than one extra model is held at a time.
      const src = this.loaded().info.path;
      if (model !== undefined && path.resolve(model) !== src) throw new MoeError('E_INPUT', `${model} was previewed for upcycling, but ${src} is loaded now: preview the upcycling again`, model);
      let figures: UpcycleFigures | undefined;
      const { written, record } = await writeUpcycled(src, out, upcycleOptions(settings), {
        evaluate: evaluate !== false,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(p),
        pause: () => ctx.pause(),
        reportFiles: (r) => {
          const made = upcycleReportFiles(src, path.resolve(out), r);
          figures = made.figures;
          return made.files;
        },
      });
      if (!figures) throw new MoeError('E_INTERNAL', 'the upcycled checkpoint was written without its report');
      return {
        ...figures,
        written,
        reportFile: path.join(written.dir, 'report.html'),
        ...(record.evaluation ? { maxAbsLogitDiff: record.evaluation.maxAbsLogitDiff, top1Agreement: record.evaluation.top1Agreement } : {}),
      };
    },
    addExpertsPreview: async (params) => addExpertsPreview(this.loaded().info.path, params),
    addExperts: async (params, ctx) => addExpertsJob(this.loaded().info.path, params, ctx),
    unload: async () => {
      await this.unloadEngine();
      return null;
    },
  };

  handle<M extends EngineMethod>(method: M, params: EngineMethods[M]['params'], ctx: RequestContext): Promise<EngineMethods[M]['result']> {
    const h = this.handlers[method] as ((p: EngineMethods[M]['params'], c: RequestContext) => Promise<EngineMethods[M]['result']>) | undefined;
    if (!h) return Promise.reject(new MoeError('E_INTERNAL', `unknown engine method "${String(method)}"`));
    throwIfCancelled(ctx.signal);
    return h(params, ctx);
  }

  async dispose(): Promise<void> {
    await this.unloadEngine();
  }

  private loadOptions(ctx?: RequestContext): Parameters<typeof MoeEngine.load>[1] {
    return { ...(ctx ? { signal: ctx.signal, onProgress: (p) => ctx.progress(p) } : {}), ...(this.data.threads ? { threads: this.data.threads } : {}), ...(this.memoryBudget !== undefined ? { memoryBudget: this.memoryBudget } : {}) };
  }

  /** After a failed load, loads the model that was loaded before, and says so in the error. */
  private async restore(previous: string | undefined, error: MoeError): Promise<MoeError> {
    if (previous === undefined) return error;
    try {
      this.engine = await MoeEngine.load(previous, this.loadOptions());
      return new MoeError(error.code, `${error.message} (${previous} is loaded again)`, error.file);
    } catch {
      return error;
    }
  }

  private loaded(): MoeEngine {
    if (!this.engine) throw new MoeError('E_NO_MODEL', 'no model is loaded: load a model folder first');
    return this.engine;
  }

  private tokens(engine: MoeEngine, input: PromptInput): TokenSpan[] {
    if ('text' in input) return engine.encodePrompt(input.text);
    // Ids without text: lay the tokens' decoded texts end to end so spans still index a string.
    let pos = 0;
    return input.ids.map((id) => {
      const text = Number.isInteger(id) && id >= 0 && id < engine.config.vocabSize ? engine.tokenizer.tokenText(id) : '';
      const span = { id, text, start: pos, end: pos + text.length };
      pos += text.length;
      return span;
    });
  }

  private async unloadEngine(): Promise<void> {
    const e = this.engine;
    this.engine = undefined;
    await e?.dispose();
    // The weights' buffers are only returned to the system when collected; the memory check of the next
    // load reads what the system has available, so collect now (the engine process runs with --expose-gc).
    if (e) (globalThis as { gc?: () => void }).gc?.();
  }
}

/** The engine's options from the request's settings (defaults as the CLI's). */
function upcycleOptions(p: UpcycleSettings): UpcycleOptions {
  const d = UPCYCLE_DEFAULTS;
  return {
    experts: p.experts,
    topK: p.topK,
    method: p.method ?? d.method,
    ratio: p.ratio ?? d.ratio,
    noiseStd: p.noiseStd ?? d.noiseStd,
    dropMode: p.dropMode ?? d.dropMode,
    router: p.router ?? d.router,
    layers: p.layers ?? d.layers,
    seed: p.seed ?? d.seed,
    ...(p.data && p.data.length > 0 ? { data: p.data.map((f) => path.resolve(f)) } : {}),
  };
}

const tensorBytes = (ckpt: Checkpoint): number => [...ckpt.tensors.values()].reduce((a, t) => a + t.entry.byteLength, 0);

/** Before/after from the planned tensors: the after's bytes are its tensor data plus the source's header overhead. */
function upcyclePreviewOf(ckpt: Checkpoint, plan: UpcyclePlan): UpcyclePreview {
  const planned = upcycleTensors(ckpt, plan);
  const overhead = Math.max(0, fileBytes(ckpt) - tensorBytes(ckpt));
  const o = plan.options;
  const figures = upcycleFigures(
    { parameters: parameterCount([...ckpt.tensors.values()].map((t) => t.entry)), bytes: fileBytes(ckpt) },
    { parameters: parameterCount(planned), bytes: planned.reduce((a, t) => a + t.byteLength, 0) + overhead },
    inactiveOf(ckpt, plan),
  );
  return {
    ...figures,
    source: { dir: ckpt.dir, name: path.basename(ckpt.dir), modelType: ckpt.config.modelType },
    target: plan.target,
    settings: { experts: o.experts, topK: o.topK, method: o.method, ratio: o.ratio, noiseStd: o.noiseStd, dropMode: o.dropMode, router: o.router, seed: o.seed, data: o.data ?? [] },
    numLayers: ckpt.config.numLayers,
    moeLayers: plan.moeLayers,
    hiddenSize: ckpt.config.hiddenSize,
    denseIntermediate: plan.denseIntermediate,
    expertIntermediate: plan.expertIntermediate,
    changedNeurons: plan.changedNeurons,
    ...(plan.partition ? { partition: plan.partition } : {}),
    routerStd: ROUTER_STD,
    functionPreserving: o.method === 'copy',
  };
}
