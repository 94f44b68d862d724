// Model loads in the output channel: which folder, how long it took, its size and shape, the warnings of
// its markers; and failed loads with the error. Follows the ModelManager's state changes, so the manager
// needs no logging of its own (a failed load that keeps the previous model ends in that model's ready
// state, which carries the failed load's error).
import type { ModelInfo } from '../../protocol/modelInfo';
import type { ModelState } from '../model/modelManager';
import type { OutputLog } from './outputLog';

type Subscribe = (listener: (s: ModelState) => void) => { dispose(): void };

export function logModelStates(onDidChange: Subscribe, log: OutputLog, now: () => number = () => performance.now()): { dispose(): void } {
  let loading: { readonly dir: string; readonly at: number } | undefined;
  let shown: ModelInfo | undefined;
  const elapsed = (dir: string): number | undefined => (loading?.dir === dir ? now() - loading.at : undefined);
  return onDidChange((s) => {
    if (s.kind === 'loading') {
      loading = { dir: s.dir, at: now() };
      log.modelLoading(s.dir);
    } else if (s.kind === 'ready') {
      // A failed load that kept the previous model ends in that model's (unchanged) ready state.
      if (loading && loading.dir !== s.dir) log.modelLoadFailed(loading.dir, `${s.failedLoad?.message ?? 'not loaded'}; still using ${s.dir}`, elapsed(loading.dir));
      if (s.info === shown) {
        loading = undefined;
        return;
      }
      shown = s.info;
      log.modelLoaded(s.info, elapsed(s.dir));
      loading = undefined;
    } else if (s.kind === 'error') {
      log.modelLoadFailed(s.dir, s.message, elapsed(s.dir));
      loading = undefined;
      shown = undefined; // no model is loaded after an error state
    } else if (s.kind === 'none') {
      if (shown) log.modelClosed();
      shown = undefined;
      loading = undefined;
    }
  });
}
