/** Error codes shared by engine, worker, host and CLI. They travel across boundaries as data. */
export type MoeErrorCode =
  | 'E_MODEL_DIR' // the model folder itself is missing or not a folder
  | 'E_CONFIG' // config.json missing, unreadable, or carrying something we refuse
  | 'E_UNSUPPORTED' // valid, but not supported (architecture, rope type, sliding window, ...)
  | 'E_SAFETENSORS' // a weights file is corrupt (header, offsets, sizes, dtype)
  | 'E_WEIGHTS' // a tensor is missing or has the wrong shape for the config
  | 'E_TOKENIZER' // tokenizer.json missing or unreadable
  | 'E_INPUT' // bad request input (empty prompt, ids out of range, prompt too long)
  | 'E_NO_MODEL' // a request needs a loaded model and none is loaded
  | 'E_CANCELLED' // the caller cancelled the request
  | 'E_WORKER' // the engine worker died or could not start
  | 'E_TIMEOUT'
  | 'E_IO' // writing an output failed
  | 'E_NUMERIC' // a computation became non-finite (a NaN/inf loss or gradient while training)
  | 'E_INTERNAL';

/** The serialisable form of an error, as it crosses postMessage. */
export interface MoeErrorData {
  readonly code: MoeErrorCode;
  readonly message: string;
  /** The file the problem is in, when there is one. */
  readonly file?: string;
}

/** An error with a code and, where it applies, the file it is about. The message names the file too. */
export class MoeError extends Error implements MoeErrorData {
  constructor(
    readonly code: MoeErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'MoeError';
  }

  toData(): MoeErrorData {
    return this.file === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, file: this.file };
  }

  static fromData(d: MoeErrorData): MoeError {
    return new MoeError(d.code, d.message, d.file);
  }

  /** Wraps anything thrown into a MoeError, keeping MoeErrors as they are. */
  static from(e: unknown): MoeError {
    if (e instanceof MoeError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    return new MoeError('E_INTERNAL', msg);
  }
}
