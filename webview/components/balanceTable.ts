// <moe-balance-table>: per-layer balance figures (moe-methods §2.1), computed by the host. Clicking a
// layer selects it.
import type { LayerBalance } from '../../src/protocol/explorerProtocol';
import { define, el, ShadowElement, sheet } from '../explorer/dom';
import { emitExplorer } from '../explorer/events';
import { alertTextColour } from '../explorer/cellColours';
import { cssColour } from '../explorer/colourMath';
import { expertList, fixed } from '../explorer/labels';
import { ScrollKeeper } from '../explorer/scrollKeeper';
import { watchHeatTheme } from '../explorer/themeColours';
import type { ScrollPos } from '../explorer/uiState';

const styles = sheet(`
  :host { display: block; height: 100%; min-height: 0; }
  .scroller { height: 100%; overflow: auto; }
  table { width: 100%; border-collapse: separate; border-spacing: 0; font-variant-numeric: tabular-nums; font-size: 12px; }
  th, td { height: 22px; padding: 0 6px; text-align: right; white-space: nowrap; }
  thead th {
    position: sticky; top: 0; z-index: 1; background: var(--moe-bg); box-shadow: 0 1px 0 var(--moe-border);
    color: var(--vscode-descriptionForeground); font-weight: normal; font-size: 10px; text-transform: uppercase; letter-spacing: 0.04em; cursor: help;
  }
  th:first-child, td:first-child { text-align: left; padding-left: 8px; }
  th:last-child, td:last-child { text-align: left; width: 100%; padding-right: 8px; }
  tbody tr { cursor: pointer; }
  tbody tr:hover { background: var(--vscode-list-hoverBackground); }
  tbody tr.current { background: var(--vscode-list-inactiveSelectionBackground); box-shadow: inset 2px 0 0 var(--vscode-focusBorder); }
  tbody tr.current button { font-weight: 600; }
  button { all: unset; cursor: pointer; color: var(--vscode-foreground); }
  button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
  .sub { color: var(--vscode-descriptionForeground); }
  .none { color: var(--vscode-descriptionForeground); }
  .dead { color: var(--vscode-charts-red, var(--vscode-errorForeground)); }
  .unused { display: inline-block; max-width: 100%; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
`);

/** Column headings with the definitions shown on hover. */
const COLUMNS: readonly (readonly [string, string])[] = [
  ['Layer', 'MoE layer (click a row to select it)'],
  ['CV', 'Coefficient of variation of the expert load: population std / mean. 0 = perfectly balanced.'],
  ['MaxVio', 'Max violation: (max load − N·k/E) / (N·k/E). 0 = no expert above the even load.'],
  ['H', 'Mean router entropy per token, in nats.'],
  ['H/log E', 'Mean router entropy normalised by log E: 1 = uniform router, 0 = certain.'],
  ['Unused', 'Experts no token of this document was routed to.'],
];

export interface BalanceTableData {
  readonly balance: readonly LayerBalance[];
  readonly selectedLayer: number | undefined;
}

export class BalanceTable extends ShadowElement {
  private readonly body = el('tbody');
  private readonly scroller: HTMLElement;
  private readonly keeper: ScrollKeeper;
  private data: BalanceTableData | undefined;
  /** charts.red adjusted to meet AA on this theme's background ('' = the stylesheet's colour). */
  private alert = '';
  private stopThemeWatch: (() => void) | undefined;

  constructor() {
    super([styles]);
    const head = el('thead', {}, [el('tr', {}, COLUMNS.map(([name, help]) => el('th', { text: name, attrs: { scope: 'col', title: help } })))]);
    this.scroller = el('div', { className: 'scroller' }, [el('table', { attrs: { 'aria-label': 'Balance per layer' } }, [head, this.body])]);
    this.root.append(this.scroller);
    this.keeper = new ScrollKeeper(this.scroller, () => emitExplorer(this, 'moe-ui-change', null));
    this.body.addEventListener('click', (ev) => {
      const row = ev.target instanceof Element ? ev.target.closest<HTMLElement>('tr[data-layer]') : null;
      if (row) emitExplorer(this, 'moe-select-layer', { layer: Number(row.dataset['layer']) });
    });
  }

  connectedCallback(): void {
    this.stopThemeWatch ??= watchHeatTheme((theme) => {
      this.alert = theme ? cssColour(alertTextColour(theme)) : '';
      if (this.data) this.update(this.data);
    });
  }

  disconnectedCallback(): void {
    this.stopThemeWatch?.();
    this.stopThemeWatch = undefined;
  }

  get scrollPosition(): ScrollPos {
    return this.keeper.position;
  }

  restore(scroll: ScrollPos): void {
    this.keeper.restore(scroll);
  }

  update(data: BalanceTableData): void {
    this.data = data;
    const rows = data.balance.map((b) => {
      const current = b.layer === data.selectedLayer;
      const dead = b.neverSelected.length;
      const unused = dead === 0 ? el('span', { className: 'none', text: '—' }) : el('span', { className: 'unused dead', text: expertList(b.neverSelected), attrs: { title: `${dead} expert${dead === 1 ? '' : 's'} never selected: ${b.neverSelected.join(', ')}` } });
      if (dead > 0) unused.style.color = this.alert;
      return el('tr', { className: current ? 'current' : '', attrs: { 'data-layer': String(b.layer) } }, [
        el('td', {}, [el('button', { text: `L${b.layer}`, attrs: { type: 'button', 'aria-label': `Select layer ${b.layer}`, ...(current ? { 'aria-current': 'true' } : {}) } })]),
        el('td', { text: fixed(b.cv, 2) }),
        el('td', { text: fixed(b.maxVio, 2) }),
        el('td', { text: fixed(b.meanEntropy, 3) }),
        el('td', { text: fixed(b.meanEntropyNormalised, 2) }),
        el('td', {}, [unused]),
      ]);
    });
    // Rebuilt wholesale: one row per layer is small; keep keyboard focus on the same layer's button.
    const focused = this.root.activeElement?.closest('tr')?.dataset['layer'];
    this.body.replaceChildren(...rows);
    if (focused !== undefined) this.body.querySelector<HTMLElement>(`tr[data-layer="${focused}"] button`)?.focus();
    this.keeper.contentRendered();
  }
}

define('moe-balance-table', BalanceTable);
