// ONNX Runtime sessions of the gradient graphs, built once per engine and graph key.
import type { MoeEngine } from '../moeEngine';
import { OrtSession } from '../runtime/ortSession';

const sessions = new WeakMap<MoeEngine, Map<string, Promise<OrtSession>>>();

/** The session for `key`, created from `build()` the first time it is asked for on this engine. */
export function cachedSession(engine: MoeEngine, key: string, build: () => Uint8Array): Promise<OrtSession> {
  let byKey = sessions.get(engine);
  if (!byKey) sessions.set(engine, (byKey = new Map()));
  let s = byKey.get(key);
  if (!s) {
    s = OrtSession.create(build());
    const map = byKey;
    s.catch(() => map.delete(key));
    byKey.set(key, s);
  }
  return s;
}

/** Releases the gradient sessions of an engine (call before disposing it). */
export async function releaseTrainingSessions(engine: MoeEngine): Promise<void> {
  const byKey = sessions.get(engine);
  sessions.delete(engine);
  for (const s of byKey?.values() ?? []) await (await s.catch(() => undefined))?.release();
}
