// Events the explorer's components raise towards the app (bubbling, composed), typed in one place.
import type { ExpertStatistic } from '../../src/protocol/expertOps';

export interface ExplorerEventMap {
  'moe-reveal-token': { readonly index: number };
  /** `layer` when the expert is not (necessarily) in the selected layer, e.g. from the profile panel. */
  'moe-select-expert': { readonly expert: number | undefined; readonly layer?: number };
  'moe-select-statistic': { readonly statistic: ExpertStatistic };
  'moe-select-layer': { readonly layer: number };
  /** Scroll position or focus changed: the app persists UI state. */
  'moe-ui-change': null;
}

export type ExplorerEventName = keyof ExplorerEventMap;

export function emitExplorer<K extends ExplorerEventName>(from: HTMLElement, type: K, detail: ExplorerEventMap[K]): void {
  from.dispatchEvent(new CustomEvent<ExplorerEventMap[K]>(type, { detail, bubbles: true, composed: true }));
}

export function onExplorer<K extends ExplorerEventName>(target: HTMLElement, type: K, handler: (detail: ExplorerEventMap[K]) => void): void {
  target.addEventListener(type, (ev) => handler((ev as CustomEvent<ExplorerEventMap[K]>).detail));
}
