// The only state the webview persists (vscode.setState): where the user was looking. Data is always
// replayed by the host, so it is never stored here.
import type { GridPos } from './gridNavigation';
import { PROFILE_ORDERS, type ProfileOrder } from './profileBars';

export type PanelId = 'tokens' | 'load' | 'balance' | 'profile';
/** Tab order. The profile tab is last and present only while the host has a profile. */
export const PANELS: readonly PanelId[] = ['tokens', 'load', 'balance', 'profile'];

export interface ScrollPos {
  readonly top: number;
  readonly left: number;
}

export interface ProfileUiState {
  readonly order: ProfileOrder;
  /** Layers whose bars are expanded (the selected layer is expanded whenever it changes). */
  readonly expanded: readonly number[];
  /** Path of the last profile shown, so the tab is brought forward only for a new profile. */
  readonly seen: string | undefined;
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
  readonly profile: ProfileUiState;
}

const ORIGIN: ScrollPos = { top: 0, left: 0 };

export const DEFAULT_PROFILE_UI: ProfileUiState = { order: 'value', expanded: [], seen: undefined };

export const DEFAULT_UI_STATE: ExplorerUiState = {
  tab: 'tokens',
  scroll: { tokens: ORIGIN, load: ORIGIN, balance: ORIGIN, profile: ORIGIN },
  focus: { row: 1, col: 1 },
  uri: undefined,
  revealed: undefined,
  profile: DEFAULT_PROFILE_UI,
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const nonNegative = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
const isPanel = (v: unknown): v is PanelId => typeof v === 'string' && (PANELS as readonly string[]).includes(v);

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseScroll(v: unknown): ScrollPos {
  return isRecord(v) ? { top: nonNegative(v['top']), left: nonNegative(v['left']) } : ORIGIN;
}

function parseProfileUi(v: unknown): ProfileUiState {
  if (!isRecord(v)) return DEFAULT_PROFILE_UI;
  const order = v['order'];
  const expanded = Array.isArray(v['expanded']) ? [...new Set(v['expanded'].filter(isIndex))] : [];
  return {
    order: typeof order === 'string' && (PROFILE_ORDERS as readonly string[]).includes(order) ? (order as ProfileOrder) : DEFAULT_PROFILE_UI.order,
    expanded,
    seen: typeof v['seen'] === 'string' ? v['seen'] : undefined,
  };
}

/** Reads what getState() returned (anything, possibly from an older version) into a valid state. */
export function parseUiState(raw: unknown): ExplorerUiState {
  if (!isRecord(raw)) return DEFAULT_UI_STATE;
  const scroll = isRecord(raw['scroll']) ? raw['scroll'] : {};
  const focus = isRecord(raw['focus']) ? raw['focus'] : {};
  return {
    tab: isPanel(raw['tab']) ? raw['tab'] : DEFAULT_UI_STATE.tab,
    scroll: { tokens: parseScroll(scroll['tokens']), load: parseScroll(scroll['load']), balance: parseScroll(scroll['balance']), profile: parseScroll(scroll['profile']) },
    focus: { row: Math.floor(nonNegative(focus['row'])), col: Math.floor(nonNegative(focus['col'])) },
    uri: typeof raw['uri'] === 'string' ? raw['uri'] : undefined,
    revealed: isIndex(raw['revealed']) ? raw['revealed'] : undefined,
    profile: parseProfileUi(raw['profile']),
  };
}
