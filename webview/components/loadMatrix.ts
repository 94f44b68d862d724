// <moe-load-matrix>: layers × experts, the number of tokens routed to each expert in the document, shaded
// by load share. Clicking (or Enter on) a layer selects it. Cells are updated in place on every state
// push, so a progressively annotated document does not rebuild the table.
import type { LayerBalance } from '../../src/protocol/explorerProtocol';
import { define, el, ShadowElement, sheet } from '../explorer/dom';
import { emitExplorer } from '../explorer/events';
import { heatCellColours, type CellColours, type HeatTheme } from '../explorer/cellColours';
import { cssColour } from '../explorer/colourMath';
import { count, fixed } from '../explorer/labels';
import { ScrollKeeper } from '../explorer/scrollKeeper';
import { shadePercent } from '../explorer/shade';
import { watchHeatTheme } from '../explorer/themeColours';
import type { ScrollPos } from '../explorer/uiState';
import { MoeTooltip } from './moeTooltip';

const ROW_HEAD_W = 52;
const MAX_CELL = 40;

const styles = sheet(`
  :host { display: flex; flex-direction: column; height: 100%; min-height: 0; font-size: 11px; }
  .note { flex: none; padding: 6px 8px 4px; color: var(--vscode-descriptionForeground); }
  .scroller { flex: 1 1 0; min-height: 0; overflow: auto; }
  table { border-collapse: separate; border-spacing: 0; font-variant-numeric: tabular-nums; }
  th, td { padding: 0; height: 20px; }
  thead th { position: sticky; top: 0; z-index: 2; background: var(--moe-bg); box-shadow: 0 1px 0 var(--moe-border); color: var(--vscode-descriptionForeground); font-weight: normal; font-size: 10px; width: var(--cell-w); min-width: var(--cell-w); box-sizing: border-box; text-align: center; }
  th[scope='row'], thead th:first-child { position: sticky; left: 0; z-index: 1; width: ${ROW_HEAD_W}px; min-width: ${ROW_HEAD_W}px; box-sizing: border-box; background: var(--moe-bg); box-shadow: 1px 0 0 var(--moe-border); text-align: left; }
  thead th:first-child { z-index: 3; padding-left: 8px; font-size: 9px; text-transform: uppercase; letter-spacing: 0.04em; }
  th[scope='row'] button {
    all: unset; box-sizing: border-box; display: block; width: 100%; height: 20px; line-height: 20px; padding: 0 10px 0 8px;
    cursor: pointer; white-space: nowrap; color: var(--vscode-foreground);
  }
  th[scope='row'] button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
  tr:hover th[scope='row'] { background-image: linear-gradient(var(--vscode-list-hoverBackground), var(--vscode-list-hoverBackground)); }
  tr.current th[scope='row'] { background-image: linear-gradient(var(--vscode-list-inactiveSelectionBackground), var(--vscode-list-inactiveSelectionBackground)); box-shadow: inset 2px 0 0 var(--vscode-focusBorder), 1px 0 0 var(--moe-border); }
  tr.current th[scope='row'] button { font-weight: 600; }
  td {
    width: var(--cell-w); min-width: var(--cell-w); box-sizing: border-box; padding: 0 3px 1px 2px; background-clip: content-box; text-align: center; cursor: pointer;
    background-color: color-mix(in srgb, var(--vscode-charts-blue) var(--w, 0%), var(--moe-empty));
    color: var(--vscode-foreground); font-size: 10px; line-height: 19px;
  }
  td.zero { color: var(--vscode-charts-red, var(--vscode-errorForeground)); }
`);

export interface LoadMatrixData {
  readonly balance: readonly LayerBalance[];
  readonly numExperts: number;
  readonly topK: number;
  readonly selectedLayer: number | undefined;
}

export class LoadMatrix extends ShadowElement {
  private data: LoadMatrixData = { balance: [], numExperts: 0, topK: 0, selectedLayer: undefined };
  private readonly note = el('div', { className: 'note' });
  private readonly table = el('table');
  private readonly scroller = el('div', { className: 'scroller' }, [this.table]);
  private readonly tooltip = new MoeTooltip();
  private readonly keeper: ScrollKeeper;
  private shapeKey = '';
  private digits = 1;
  /** The theme's colours and the cell colours computed from them (by shade and zero), reset on theme change. */
  private theme: HeatTheme | undefined;
  private readonly cellColours = new Map<string, { background: string; color: string }>();
  private stopThemeWatch: (() => void) | undefined;

  constructor() {
    super([styles]);
    this.root.append(this.note, this.scroller, this.tooltip);
    this.keeper = new ScrollKeeper(this.scroller, () => emitExplorer(this, 'moe-ui-change', null), () => this.layout());
    this.table.addEventListener('click', (ev) => {
      const row = ev.target instanceof Element ? ev.target.closest<HTMLElement>('tr[data-layer]') : null;
      if (row) emitExplorer(this, 'moe-select-layer', { layer: Number(row.dataset['layer']) });
    });
    this.table.addEventListener('pointerover', (ev) => this.onPointerOver(ev));
    this.scroller.addEventListener('pointerleave', () => this.tooltip.hide());
    this.scroller.addEventListener('scroll', () => this.tooltip.hide(), { passive: true });
  }

  connectedCallback(): void {
    this.stopThemeWatch ??= watchHeatTheme((theme) => {
      this.theme = theme;
      this.cellColours.clear();
      if (this.shapeKey !== '') this.update(this.data);
    });
  }

  disconnectedCallback(): void {
    this.stopThemeWatch?.();
    this.stopThemeWatch = undefined;
  }

  /** Inline colours of a cell: text chosen per background so it meets WCAG AA; CSS decides without a theme. */
  private colours(percent: number, zero: boolean): { background: string; color: string } {
    const key = `${percent}:${zero}`;
    let c = this.cellColours.get(key);
    if (!c) {
      const computed: CellColours | undefined = this.theme ? heatCellColours(this.theme, percent, zero) : undefined;
      c = computed ? { background: cssColour(computed.background), color: cssColour(computed.text) } : { background: '', color: '' };
      this.cellColours.set(key, c);
    }
    return c;
  }

  get scrollPosition(): ScrollPos {
    return this.keeper.position;
  }

  restore(scroll: ScrollPos): void {
    this.keeper.restore(scroll);
  }

  update(data: LoadMatrixData): void {
    this.data = data;
    const E = data.numExperts;
    const key = `${E}:${data.balance.map((b) => b.layer).join(',')}`;
    if (key !== this.shapeKey) this.build();
    this.shapeKey = key;
    const maxLoad = Math.max(1, ...data.balance.flatMap((b) => b.load));
    this.digits = String(maxLoad).length;
    this.layout();
    // Even load n̄ = N·k/E: every layer routes the same N·k slots, so the first layer's total serves.
    const slots = data.balance[0]?.load.reduce((a, b) => a + b, 0) ?? 0;
    this.note.textContent = data.balance.length === 0 ? 'No MoE layers.' : `Tokens routed to each expert (top-${data.topK}). Even load: ${fixed(slots / Math.max(1, E), 1)} per expert.`;
    const rows = this.table.tBodies[0]?.rows ?? [];
    data.balance.forEach((b, i) => {
      const tr = rows[i]!;
      const current = b.layer === data.selectedLayer;
      tr.classList.toggle('current', current);
      const button = tr.cells[0]!.firstElementChild as HTMLElement;
      if (current) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
      for (let e = 0; e < E; e++) {
        const td = tr.cells[e + 1]!;
        const n = b.load[e] ?? 0;
        const text = String(n);
        if (td.textContent !== text) td.textContent = text;
        td.classList.toggle('zero', n === 0);
        const percent = shadePercent(n, maxLoad);
        const shade = `${percent}%`;
        if (td.style.getPropertyValue('--w') !== shade) td.style.setProperty('--w', shade);
        const { background, color } = this.colours(percent, n === 0);
        if (td.style.backgroundColor !== background) td.style.backgroundColor = background;
        if (td.style.color !== color) td.style.color = color;
      }
    });
    this.keeper.contentRendered();
  }

  /** Cells at least wide enough for the largest number, widened to fill the panel when there is room. */
  private layout(): void {
    const E = this.data.numExperts;
    const minimum = Math.max(18, this.digits * 7 + 8);
    const fill = E > 0 ? Math.floor((this.scroller.clientWidth - ROW_HEAD_W) / E) : 0;
    this.style.setProperty('--cell-w', `${Math.max(minimum, Math.min(MAX_CELL, fill))}px`);
  }

  private build(): void {
    const E = this.data.numExperts;
    const head = el('tr', {}, [el('th', { text: 'Layer', attrs: { scope: 'col' } }), ...Array.from({ length: E }, (_, e) => el('th', { text: String(e), attrs: { scope: 'col', 'aria-label': `expert ${e}` } }))]);
    const body = this.data.balance.map((b) =>
      el('tr', { attrs: { 'data-layer': String(b.layer) } }, [
        el('th', { attrs: { scope: 'row' } }, [el('button', { text: `L${b.layer}`, attrs: { type: 'button', 'aria-label': `Select layer ${b.layer}` } })]),
        ...Array.from({ length: E }, () => el('td')),
      ]),
    );
    this.table.setAttribute('aria-label', 'Expert load per layer');
    this.table.replaceChildren(el('thead', {}, [head]), el('tbody', {}, body));
  }

  private onPointerOver(ev: PointerEvent): void {
    const td = ev.target instanceof Element ? ev.target.closest('td') : null;
    const tr = td?.parentElement;
    if (!td || !(tr instanceof HTMLTableRowElement)) return this.tooltip.hide();
    const b = this.data.balance.find((x) => String(x.layer) === tr.dataset['layer']);
    const e = td.cellIndex - 1;
    if (!b) return this.tooltip.hide();
    const n = b.load[e] ?? 0;
    const total = b.load.reduce((a, x) => a + x, 0);
    this.tooltip.show(td.getBoundingClientRect(), [
      { text: `Layer ${b.layer} · expert ${e}`, kind: 'head' },
      { text: `${count(n)} tokens · ${total > 0 ? fixed((100 * n) / total, 1) : '0.0'}% of routed slots` },
      { text: 'Click to show this layer', kind: 'dim' },
    ]);
  }
}

define('moe-load-matrix', LoadMatrix);
