// <moe-token-heatmap>: tokens × experts for one layer, shaded by gate weight. Rows are virtualised (only
// the visible rows, plus the focused one, are in the DOM), so 2,000 tokens × 64 experts stay light.
// Keyboard: an ARIA grid with a roving tabindex; row 0 = expert headers, column 0 = token headers.
import { define, el, ShadowElement } from '../explorer/dom';
import { assertNever } from '../explorer/assertNever';
import { emitExplorer } from '../explorer/events';
import { actionAt, clampPos, navigateGrid, type GridPos } from '../explorer/gridNavigation';
import { EMPTY_HEATMAP, originOf, tooltipLines, type HeatmapData } from '../explorer/heatmapData';
import { cellLabel, fixed, rowLabel } from '../explorer/labels';
import { ScrollKeeper } from '../explorer/scrollKeeper';
import { shadePercent, weightOf, weightScale } from '../explorer/shade';
import { visibleToken } from '../explorer/tokenText';
import type { ScrollPos } from '../explorer/uiState';
import { scrollToReveal, visibleRowRange } from '../explorer/virtualRows';
import { MoeTooltip } from './moeTooltip';
import { heatmapStyles } from './tokenHeatmap.styles';

const ROW_H = 20;
const ROW_HEAD_W = 116;
const MIN_CELL = 12;
const MAX_CELL = 30;
/** Below this width column labels are written vertically. */
const VERTICAL_BELOW = 20;

export class TokenHeatmap extends ShadowElement {
  private data: HeatmapData = EMPTY_HEATMAP;
  private scale = 1;
  private cellW = MAX_CELL;
  private headH = 22;
  private cursor: GridPos = { row: 1, col: 1 };
  private revealed: number | undefined;
  private readonly scroller = el('div', { className: 'scroller', attrs: { role: 'grid', 'aria-readonly': 'true' } });
  private readonly head = el('div', { className: 'row head', attrs: { role: 'row', 'aria-rowindex': '1', 'data-row': '0' } });
  private readonly body = el('div', { className: 'body', attrs: { role: 'rowgroup' } });
  private readonly empty = el('div', { className: 'empty', text: 'No tokens.' });
  private readonly legendMax = el('span', { className: 'num' });
  private readonly clear = el('button', { className: 'clear', attrs: { type: 'button' } });
  private readonly legend = el('div', { className: 'legend' }, [
    el('span', { text: 'Gate weight', attrs: { 'aria-hidden': 'true' } }),
    el('span', { className: 'num', text: '0', attrs: { 'aria-hidden': 'true' } }),
    el('span', { className: 'ramp', attrs: { 'aria-hidden': 'true' } }),
    this.legendMax,
    this.clear,
  ]);
  private readonly tooltip = new MoeTooltip();
  /** Mounted rows by token index; rows that scroll away go back to the pool. */
  private readonly rows = new Map<number, HTMLElement>();
  private readonly pool: HTMLElement[] = [];
  /** What each mounted row was last filled with; progressive updates skip rows that did not change. */
  private readonly filledWith = new WeakMap<HTMLElement, string>();
  private readonly keeper: ScrollKeeper;
  private frame = 0;

  constructor() {
    super([heatmapStyles]);
    this.scroller.append(el('div', { className: 'canvas' }, [this.head, this.body]));
    this.root.append(this.legend, this.scroller, this.empty, this.tooltip);
    this.clear.addEventListener('click', () => emitExplorer(this, 'moe-select-expert', { expert: undefined }));
    this.keeper = new ScrollKeeper(this.scroller, () => emitExplorer(this, 'moe-ui-change', null), () => this.layout());
    this.scroller.addEventListener('scroll', () => this.scheduleRender(), { passive: true });
    this.scroller.addEventListener('keydown', (ev) => this.onKeyDown(ev));
    this.scroller.addEventListener('click', (ev) => this.onClick(ev));
    this.scroller.addEventListener('focusin', (ev) => this.onFocusIn(ev));
    this.scroller.addEventListener('pointerover', (ev) => this.onPointerOver(ev));
    this.scroller.addEventListener('pointerleave', () => this.tooltip.hide());
    this.scroller.addEventListener('focusout', () => this.tooltip.hide());
  }

  /** Replaces the data; keeps scroll and focus (clamped to the new size). */
  update(data: HeatmapData): void {
    const rebuild = data.numExperts !== this.data.numExperts;
    this.data = data;
    this.scale = weightScale(data.routing);
    this.cursor = clampPos(this.cursor, this.shape());
    this.scroller.setAttribute('aria-rowcount', String(data.tokens.length + 1));
    this.scroller.setAttribute('aria-colcount', String(data.numExperts + 1));
    this.scroller.setAttribute('aria-label', data.layer === undefined ? 'Tokens by experts' : `Tokens by experts, layer ${data.layer}`);
    this.empty.hidden = data.tokens.length > 0;
    this.scroller.hidden = data.tokens.length === 0;
    this.legend.hidden = data.tokens.length === 0;
    this.legendMax.textContent = fixed(this.scale, 2);
    this.legendMax.setAttribute('aria-label', `Shade: gate weight from 0 to ${fixed(this.scale, 2)}`);
    this.clear.hidden = data.selectedExpert === undefined;
    this.clear.replaceChildren(`Expert ${data.selectedExpert ?? ''}`, el('span', { className: 'x', text: '×', attrs: { 'aria-hidden': 'true' } }));
    this.clear.setAttribute('aria-label', `Clear the selection of expert ${data.selectedExpert ?? ''}`);
    if (rebuild) this.rebuildColumns();
    this.layout();
    this.renderHead();
    for (const [t, row] of this.rows) this.fillRow(row, t);
    this.renderWindow();
    this.keeper.contentRendered();
  }

  get scrollPosition(): ScrollPos {
    return this.keeper.position;
  }

  get focusedCell(): GridPos {
    return this.cursor;
  }

  restore(scroll: ScrollPos, focus: GridPos): void {
    this.cursor = focus;
    this.keeper.restore(scroll);
  }

  /** Scrolls token `index` into view, highlights its row and makes it the focus target (without stealing focus). */
  revealToken(index: number): void {
    if (index < 0 || index >= this.data.tokens.length) return;
    this.revealed = index;
    this.moveFocus({ row: index + 1, col: this.cursor.col }, false);
    // Through the keeper: the panel may be hidden right now (another tab), then it scrolls when shown.
    const viewport = this.scroller.clientHeight || this.clientHeight || 400;
    const top = Math.max(0, index * ROW_H - Math.max(0, (viewport - this.headH) / 2 - ROW_H));
    this.keeper.restore({ top, left: this.keeper.position.left });
    this.renderWindow();
    for (const [t, row] of this.rows) row.classList.toggle('revealed', t === index);
  }

  /** Highlights token `index`'s row (undefined: no row) without scrolling or moving the focus. */
  highlightToken(index: number | undefined): void {
    if (index === this.revealed) return;
    this.revealed = index;
    for (const [t, row] of this.rows) row.classList.toggle('revealed', t === index);
  }

  private shape(): { rows: number; cols: number; pageRows: number } {
    return { rows: this.data.tokens.length + 1, cols: this.data.numExperts + 1, pageRows: Math.max(1, Math.floor((this.scroller.clientHeight - this.headH) / ROW_H) - 1) };
  }

  /** Column width from the available width; sizes go to custom properties the stylesheet reads. */
  private layout(): void {
    const E = this.data.numExperts;
    const width = this.scroller.clientWidth || this.clientWidth;
    if (E === 0 || width === 0) return;
    const cellW = Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor((width - ROW_HEAD_W) / E)));
    const vertical = cellW < VERTICAL_BELOW;
    const maxLabel = String(E - 1).length;
    this.cellW = cellW;
    this.headH = vertical ? 10 + maxLabel * 7 : 22;
    this.head.classList.toggle('vertical', vertical);
    this.style.setProperty('--cell-w', `${cellW}px`);
    this.style.setProperty('--rh-w', `${ROW_HEAD_W}px`);
    this.style.setProperty('--row-h', `${ROW_H}px`);
    this.style.setProperty('--head-h', `${this.headH}px`);
    this.style.setProperty('--grid-w', `${ROW_HEAD_W + E * cellW}px`);
    this.style.setProperty('--grid-h', `${this.headH + this.data.tokens.length * ROW_H}px`);
    for (const [t, row] of this.rows) row.style.top = `${this.headH + t * ROW_H}px`;
    this.scheduleRender();
  }

  private rebuildColumns(): void {
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
    this.pool.length = 0;
    const E = this.data.numExperts;
    const corner = el('div', { className: 'rh', text: 'Token', attrs: { role: 'columnheader', 'aria-colindex': '1', 'data-col': '0', tabindex: '-1' } });
    const headers = Array.from({ length: E }, (_, e) => el('div', { className: 'ch', text: String(e), attrs: { role: 'columnheader', 'aria-colindex': String(e + 2), 'data-col': String(e + 1), tabindex: '-1' } }));
    // The legend of the editor's colours: each expert's header is underlined with its theme colour
    // (moeWorkbench.expertN, contributed by the extension, reaches the webview as a --vscode-* variable).
    headers.forEach((h, e) => h.style.setProperty('box-shadow', `inset 0 -3px 0 var(--vscode-moeWorkbench-expert${e % 16})`));
    this.head.replaceChildren(corner, ...headers);
  }

  private renderHead(): void {
    const sel = this.data.selectedExpert;
    const cells = this.head.children;
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c] as HTMLElement;
      const e = c - 1;
      cell.tabIndex = this.cursor.row === 0 && this.cursor.col === c ? 0 : -1;
      if (e < 0) continue;
      const selected = e === sel;
      cell.classList.toggle('sel', selected);
      cell.setAttribute('aria-selected', String(selected));
      cell.setAttribute('aria-label', `expert ${e}${originOf(this.data, e)}${selected ? ', selected' : ''}`);
    }
  }

  private newRow(): HTMLElement {
    const E = this.data.numExperts;
    const header = el('div', { className: 'rh', attrs: { role: 'rowheader', 'aria-colindex': '1', 'data-col': '0' } }, [el('span', { className: 'ix' }), el('span', { className: 'tx' })]);
    const cells = Array.from({ length: E }, (_, e) => el('div', { className: 'c', attrs: { role: 'gridcell', 'aria-colindex': String(e + 2), 'data-col': String(e + 1) } }));
    return el('div', { className: 'row', attrs: { role: 'row' } }, [header, ...cells]);
  }

  private fillRow(row: HTMLElement, t: number): void {
    const { tokens, known, routing, selectedExpert } = this.data;
    const text = tokens[t]?.text ?? '';
    const isKnown = known[t] === true;
    const pairs = routing[t];
    const r = t + 1;
    const cursorCol = this.cursor.row === r ? this.cursor.col : -1;
    const signature = `${t}|${isKnown}|${selectedExpert}|${cursorCol}|${t === this.revealed}|${this.scale}|${this.headH}|${pairs?.join(';')}|${text}`;
    if (this.filledWith.get(row) === signature) return;
    this.filledWith.set(row, signature);
    row.dataset['row'] = String(r);
    row.setAttribute('aria-rowindex', String(r + 1));
    row.style.top = `${this.headH + t * ROW_H}px`;
    row.classList.toggle('unknown', !isKnown);
    row.classList.toggle('revealed', t === this.revealed);
    const cells = row.children;
    const header = cells[0] as HTMLElement;
    header.tabIndex = cursorCol === 0 ? 0 : -1;
    header.setAttribute('aria-label', rowLabel(t, text, isKnown));
    (header.firstChild as HTMLElement).textContent = String(t);
    (header.lastChild as HTMLElement).textContent = visibleToken(text);
    for (let c = 1; c < cells.length; c++) {
      const cell = cells[c] as HTMLElement;
      const e = c - 1;
      const w = isKnown ? weightOf(pairs, e) : 0;
      cell.style.setProperty('--w', `${shadePercent(w, this.scale)}%`);
      cell.classList.toggle('sel', e === selectedExpert);
      cell.classList.toggle('on', w > 0);
      cell.tabIndex = cursorCol === c ? 0 : -1;
      cell.setAttribute('aria-label', cellLabel(t, text, e, w, isKnown));
    }
  }

  private scheduleRender(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderWindow();
    });
  }

  /** Mounts the rows in (and near) the viewport plus the focused row; recycles the rest. */
  private renderWindow(): void {
    const T = this.data.tokens.length;
    const range = visibleRowRange(this.scroller.scrollTop - this.headH, this.scroller.clientHeight, ROW_H, T, 8);
    const focusedToken = this.cursor.row - 1;
    const wanted = (t: number): boolean => (t >= range.start && t < range.end) || t === focusedToken;
    for (const [t, row] of this.rows) {
      if (wanted(t) && t < T) continue;
      this.rows.delete(t);
      row.remove();
      this.pool.push(row);
    }
    const mount = (t: number): void => {
      if (this.rows.has(t) || t < 0 || t >= T) return;
      const row = this.pool.pop() ?? this.newRow();
      this.fillRow(row, t);
      this.rows.set(t, row);
      this.body.append(row);
    };
    for (let t = range.start; t < range.end; t++) mount(t);
    mount(focusedToken);
  }

  private cellAt(pos: GridPos): HTMLElement | undefined {
    const row = pos.row === 0 ? this.head : this.rows.get(pos.row - 1);
    return row?.children[pos.col] as HTMLElement | undefined;
  }

  /** Roving tabindex: exactly one cell is tabbable. `takeFocus` also scrolls to it and focuses it. */
  private moveFocus(pos: GridPos, takeFocus: boolean): void {
    const previous = this.cellAt(this.cursor);
    if (previous) previous.tabIndex = -1;
    this.cursor = clampPos(pos, this.shape());
    if (takeFocus) {
      const s = this.scroller;
      if (this.cursor.row > 0) s.scrollTop = scrollToReveal(s.scrollTop, s.clientHeight, this.headH + (this.cursor.row - 1) * ROW_H, ROW_H, this.headH);
      if (this.cursor.col > 0) s.scrollLeft = scrollToReveal(s.scrollLeft, s.clientWidth, ROW_HEAD_W + (this.cursor.col - 1) * this.cellW, this.cellW, ROW_HEAD_W);
    }
    this.renderWindow();
    const cell = this.cellAt(this.cursor);
    if (!cell) return;
    cell.tabIndex = 0;
    if (takeFocus) {
      cell.focus({ preventScroll: true });
      this.showTooltip(cell);
    }
    emitExplorer(this, 'moe-ui-change', null);
  }

  private posOf(target: EventTarget | null): GridPos | undefined {
    if (!(target instanceof HTMLElement)) return undefined;
    const cell = target.closest<HTMLElement>('[data-col]');
    const row = cell?.parentElement;
    if (!cell || !row || row.dataset['row'] === undefined) return undefined;
    return { row: Number(row.dataset['row']), col: Number(cell.dataset['col']) };
  }

  private onFocusIn(ev: FocusEvent): void {
    const pos = this.posOf(ev.target);
    if (pos && (pos.row !== this.cursor.row || pos.col !== this.cursor.col)) this.moveFocus(pos, false);
  }

  private onKeyDown(ev: KeyboardEvent): void {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      this.act(this.cursor);
      return;
    }
    if (ev.key === 'Escape' && this.data.selectedExpert !== undefined) {
      ev.preventDefault();
      emitExplorer(this, 'moe-select-expert', { expert: undefined });
      return;
    }
    const next = navigateGrid(this.cursor, ev, this.shape());
    if (!next) return;
    ev.preventDefault();
    this.moveFocus(next, true);
  }

  private onClick(ev: MouseEvent): void {
    const pos = this.posOf(ev.target);
    if (pos && (pos.row === 0 || pos.col === 0)) this.act(pos);
  }

  private act(pos: GridPos): void {
    const action = actionAt(pos);
    switch (action.kind) {
      case 'revealToken':
        emitExplorer(this, 'moe-reveal-token', { index: action.token });
        return;
      case 'toggleExpert':
        emitExplorer(this, 'moe-select-expert', { expert: this.data.selectedExpert === action.expert ? undefined : action.expert });
        return;
      case 'none':
        return;
      default:
        assertNever(action, 'grid action');
    }
  }

  private onPointerOver(ev: PointerEvent): void {
    const target = ev.target instanceof HTMLElement ? ev.target.closest<HTMLElement>('[data-col]') : null;
    if (target) this.showTooltip(target);
    else this.tooltip.hide();
  }

  private showTooltip(cell: HTMLElement): void {
    const pos = this.posOf(cell);
    const lines = pos ? tooltipLines(this.data, pos) : [];
    if (lines.length === 0) this.tooltip.hide();
    else this.tooltip.show(cell.getBoundingClientRect(), lines);
  }
}

define('moe-token-heatmap', TokenHeatmap);
