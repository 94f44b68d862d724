// The one module that imports onnxruntime-node. Everything else passes plain typed arrays.
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import { MoeError } from '../../protocol/moeError';

export type FeedTensor = { readonly type: 'float32'; readonly data: Float32Array; readonly dims: readonly number[] } | { readonly type: 'int64'; readonly data: BigInt64Array; readonly dims: readonly number[] };

export interface OutTensor {
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

export interface SessionOptions {
  /** Intra-op threads; default: the machine's cores. */
  readonly threads?: number;
  /**
   * Writes ONNX Runtime's per-node trace (Chrome trace JSON, `<prefix>_<timestamp>.json`) when the session
   * ends profiling: how scripts/bench/profileOps.ts attributes time to op types.
   */
  readonly profileFilePrefix?: string;
}

/** An ONNX Runtime CPU session over a model given as bytes or a file path (for external data). */
export class OrtSession {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(model: Uint8Array | string, opts: SessionOptions = {}): Promise<OrtSession> {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? Math.max(1, os.availableParallelism()),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      ...(opts.profileFilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
    };
    try {
      const s = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      return new OrtSession(s);
    } catch (e) {
      throw new MoeError('E_INTERNAL', `ONNX Runtime could not create a session: ${(e as Error).message}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Readonly<Record<string, FeedTensor>>): Promise<Record<string, OutTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(ortFeeds);
    } catch (e) {
      throw new MoeError('E_INTERNAL', `ONNX Runtime failed while running the model: ${(e as Error).message}`);
    }
    const result: Record<string, OutTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      const data = t.data;
      if (!(data instanceof Float32Array) && !(data instanceof BigInt64Array)) throw new MoeError('E_INTERNAL', `output ${name} has unexpected type ${t.type}`);
      result[name] = { dims: t.dims, data };
    }
    return result;
  }

  /** Stops profiling and writes the trace file (sessions created with profileFilePrefix). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
