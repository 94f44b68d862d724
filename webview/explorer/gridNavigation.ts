// Keyboard movement in the tokens × experts grid (WAI-ARIA grid pattern). Grid coordinates: row 0 is the
// column-header row, col 0 the row-header column; data cells are rows 1..rows-1, cols 1..cols-1.

export interface GridPos {
  readonly row: number;
  readonly col: number;
}

export interface GridShape {
  readonly rows: number;
  readonly cols: number;
  /** Rows moved by PageUp/PageDown (the visible page). */
  readonly pageRows: number;
}

export interface GridKey {
  readonly key: string;
  readonly ctrlKey?: boolean;
  readonly metaKey?: boolean;
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

/** Keeps a position inside the grid (after the grid shrank). */
export function clampPos(pos: GridPos, shape: Pick<GridShape, 'rows' | 'cols'>): GridPos {
  return { row: clamp(pos.row, 0, Math.max(0, shape.rows - 1)), col: clamp(pos.col, 0, Math.max(0, shape.cols - 1)) };
}

/** The position a key moves focus to, or undefined when the key is not a navigation key. */
export function navigateGrid(pos: GridPos, key: GridKey, shape: GridShape): GridPos | undefined {
  const lastRow = Math.max(0, shape.rows - 1);
  const lastCol = Math.max(0, shape.cols - 1);
  const page = Math.max(1, shape.pageRows);
  const ctrl = key.ctrlKey === true || key.metaKey === true;
  let next: GridPos;
  switch (key.key) {
    case 'ArrowUp': next = { row: pos.row - 1, col: pos.col }; break;
    case 'ArrowDown': next = { row: pos.row + 1, col: pos.col }; break;
    case 'ArrowLeft': next = { row: pos.row, col: pos.col - 1 }; break;
    case 'ArrowRight': next = { row: pos.row, col: pos.col + 1 }; break;
    case 'Home': next = ctrl ? { row: 0, col: 0 } : { row: pos.row, col: 0 }; break;
    case 'End': next = ctrl ? { row: lastRow, col: lastCol } : { row: pos.row, col: lastCol }; break;
    case 'PageUp': next = { row: pos.row - page, col: pos.col }; break;
    case 'PageDown': next = { row: pos.row + page, col: pos.col }; break;
    default: return undefined;
  }
  return clampPos(next, shape);
}

/** What Enter/Space does at a position. */
export type GridAction = { readonly kind: 'revealToken'; readonly token: number } | { readonly kind: 'toggleExpert'; readonly expert: number } | { readonly kind: 'none' };

export function actionAt(pos: GridPos): GridAction {
  if (pos.row === 0) return pos.col === 0 ? { kind: 'none' } : { kind: 'toggleExpert', expert: pos.col - 1 };
  return { kind: 'revealToken', token: pos.row - 1 };
}
