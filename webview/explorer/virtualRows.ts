// Which rows of a long, fixed-row-height list to keep in the DOM.

export interface RowRange {
  /** First row to render (inclusive). */
  readonly start: number;
  /** One past the last row to render. */
  readonly end: number;
}

/** Rows intersecting [scrollTop, scrollTop + viewport) plus `overscan` rows either side. */
export function visibleRowRange(scrollTop: number, viewport: number, rowHeight: number, rowCount: number, overscan = 6): RowRange {
  if (rowCount <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewport)) / rowHeight);
  return { start: Math.max(0, Math.min(rowCount, first - overscan)), end: Math.min(rowCount, Math.max(0, last + overscan)) };
}

/** The scroll offset that brings [itemStart, itemStart + itemSize) into a viewport whose first `inset` px are covered (sticky headers). */
export function scrollToReveal(scroll: number, viewport: number, itemStart: number, itemSize: number, inset: number): number {
  if (itemStart - inset < scroll) return Math.max(0, itemStart - inset);
  if (itemStart + itemSize > scroll + viewport) return itemStart + itemSize - viewport;
  return scroll;
}
