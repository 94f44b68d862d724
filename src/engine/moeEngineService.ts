// The protocol's methods implemented on a MoeEngine. One model is loaded at a time.
import type { EngineMethod, EngineMethods, PromptInput, TokenSpan } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';
import type { EngineService, EngineWorkerData, RequestContext } from './engineService';
import { throwIfCancelled } from './engineService';
import { exportOnnx } from './exportOnnx';
import { MoeEngine } from './moeEngine';

type Handlers = { [M in EngineMethod]: (params: EngineMethods[M]['params'], ctx: RequestContext) => Promise<EngineMethods[M]['result']> };

export class MoeEngineService implements EngineService {
  private engine: MoeEngine | undefined;

  constructor(private readonly data: EngineWorkerData = {}) {}

  private readonly handlers: Handlers = {
    load: async ({ modelDir }, ctx) => {
      await this.unloadEngine();
      this.engine = await MoeEngine.load(modelDir, { signal: ctx.signal, onProgress: (p) => ctx.progress(p), ...(this.data.threads ? { threads: this.data.threads } : {}) });
      return this.engine.info;
    },
    inspect: async () => this.loaded().info,
    tokenize: async ({ text }) => this.loaded().tokenizer.encode(text),
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

  private loaded(): MoeEngine {
    if (!this.engine) throw new MoeError('E_NO_MODEL', 'no model is loaded: load a model folder first');
    return this.engine;
  }

  private tokens(engine: MoeEngine, input: PromptInput): TokenSpan[] {
    if ('text' in input) return engine.tokenizer.encode(input.text);
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
  }
}
