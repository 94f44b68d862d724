// ONNX Runtime sessions of the gradient graphs: held by the engine (its thread count, released with it),
// under keys of their own so a training run can release them early.
import type { MoeEngine } from '../moeEngine';
import type { OrtSession } from '../runtime/ortSession';

const PREFIX = 'training|';

/** The session for `key`, created from `build()` the first time it is asked for on this engine. */
export function cachedSession(engine: MoeEngine, key: string, build: () => Uint8Array): Promise<OrtSession> {
  return engine.cachedSession(PREFIX + key, build);
}

/** Releases the gradient sessions of an engine (dispose() releases them too). */
export function releaseTrainingSessions(engine: MoeEngine): Promise<void> {
  return engine.releaseSessions(PREFIX);
}
