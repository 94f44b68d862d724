// The only state the webview persists (vscode.setState): where the user was looking. Data is always
// replayed by the host, so it is never stored here.
import type { GridPos } from './gridNavigation';

export type PanelId = 'tokens' | 'load' | 'balance';
export const PANELS: readonly PanelId[] = ['tokens', 'load', 'balance'];

export interface ScrollPos {
  readonly top: number;
  readonly left: number;
}

export interface ExplorerUiState {
  readonly tab: PanelId;
  readonly scroll: Readonly<Record<PanelId, ScrollPos>>;
  /** Focused heatmap cell in grid coordinates. */
  readonly focus: GridPos;
  /** Document the scroll/focus belong to; another document starts at the top. */
  readonly uri: string | undefined;
  /** Last revealedToken acted on, so a replayed state does not scroll again. */
  readonly revealed: number | undefined;
}

const ORIGIN: ScrollPos = { top: 0, left: 0 };

export const DEFAULT_UI_STATE: ExplorerUiState = { tab: 'tokens', scroll: { tokens: ORIGIN, load: ORIGIN, balance: ORIGIN }, focus: { row: 1, col: 1 }, uri: undefined, revealed: undefined };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const nonNegative = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
const isPanel = (v: unknown): v is PanelId => typeof v === 'string' && (PANELS as readonly string[]).includes(v);

function parseScroll(v: unknown): ScrollPos {
  return isRecord(v) ? { top: nonNegative(v['top']), left: nonNegative(v['left']) } : ORIGIN;
}

/** Reads what getState() returned (anything, possibly from an older version) into a valid state. */
export function parseUiState(raw: unknown): ExplorerUiState {
  if (!isRecord(raw)) return DEFAULT_UI_STATE;
  const scroll = isRecord(raw['scroll']) ? raw['scroll'] : {};
  const focus = isRecord(raw['focus']) ? raw['focus'] : {};
  return {
    tab: isPanel(raw['tab']) ? raw['tab'] : DEFAULT_UI_STATE.tab,
    scroll: { tokens: parseScroll(scroll['tokens']), load: parseScroll(scroll['load']), balance: parseScroll(scroll['balance']) },
    focus: { row: Math.floor(nonNegative(focus['row'])), col: Math.floor(nonNegative(focus['col'])) },
    uri: typeof raw['uri'] === 'string' ? raw['uri'] : undefined,
    revealed: typeof raw['revealed'] === 'number' && Number.isInteger(raw['revealed']) && raw['revealed'] >= 0 ? raw['revealed'] : undefined,
  };
}
