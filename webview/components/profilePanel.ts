// <moe-profile-panel>: the active expert profile (issue #4). A statistic picker (the host computes the
// values), the expert order, and per MoE layer a collapsible list of horizontal bars, one per expert, in
// the expert's palette colour with the value written next to it. The selected layer is highlighted and
// expanded whenever it changes; clicking a bar selects (or clears) that expert in that layer.
// Keyboard: layer headers are buttons in the tab order; inside a layer the bars are one tab stop (roving
// tabindex) moved with the arrows, Home/End and PageUp/PageDown.
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import type { ExplorerProfile } from '../../src/protocol/explorerProtocol';
import { define, el, ShadowElement } from '../explorer/dom';
import { emitExplorer } from '../explorer/events';
import { count } from '../explorer/labels';
import { barLabel, expertColour, layerSummary, moveInList, PROFILE_ORDERS, profileBars, sameProfile, type ProfileOrder } from '../explorer/profileBars';
import { ScrollKeeper } from '../explorer/scrollKeeper';
import type { ScrollPos } from '../explorer/uiState';
import { profileStyles } from './profilePanel.styles';

export interface ProfilePanelData {
  readonly profile: ExplorerProfile;
  readonly selectedLayer: number | undefined;
  readonly selectedExpert: number | undefined;
}

/** What the panel persists through the app (vscode.setState). */
export interface ProfilePanelSettings {
  readonly order: ProfileOrder;
  readonly expanded: readonly number[];
}

const ORDER_NAMES: Readonly<Record<ProfileOrder, string>> = { value: 'By value', id: 'By expert id' };

export class ProfilePanel extends ShadowElement {
  private data: ProfilePanelData | undefined;
  private version = 0;
  private order: ProfileOrder = 'value';
  private readonly expanded = new Set<number>();
  private lastSelectedLayer: number | undefined;
  private renderedKey = '';
  private optionsKey = '';
  /** Per layer: the expert whose bar is the layer's tab stop. */
  private readonly cursor = new Map<number, number>();

  private readonly file = el('span', { className: 'file' });
  private readonly figures = el('span');
  private readonly warn = el('span', { className: 'warn', text: '· truncated', attrs: { title: 'Profiling stopped before the end of the calibration data (maxTokens).' } });
  private readonly statSelect = el('vscode-single-select', { attrs: { id: 'statistic', 'aria-label': 'Statistic' } });
  private readonly orderSelect = el('vscode-single-select', { attrs: { id: 'order', 'aria-label': 'Order of the experts' } });
  private readonly toggleAll = el('button', { className: 'toggle-all', attrs: { type: 'button' } });
  private readonly definition = el('p', { className: 'definition' });
  private readonly list = el('div');
  private readonly empty = el('div', { className: 'empty', text: 'The profile has no MoE layers.' });
  private readonly scroller = el('div', { className: 'scroller' }, [this.list, this.empty]);
  private readonly keeper: ScrollKeeper;

  constructor() {
    super([profileStyles]);
    this.orderSelect.append(...PROFILE_ORDERS.map((o) => el('vscode-option', { text: ORDER_NAMES[o], attrs: { value: o } })));
    const controls = el('div', { className: 'controls' }, [
      el('div', { className: 'summary' }, [this.file, el('span', { text: '·', attrs: { 'aria-hidden': 'true' } }), this.figures, this.warn]),
      el('div', { className: 'pickers' }, [
        el('div', { className: 'picker' }, [el('label', { text: 'Statistic', attrs: { for: 'statistic' } }), this.statSelect]),
        el('div', { className: 'picker' }, [el('label', { text: 'Order', attrs: { for: 'order' } }), this.orderSelect]),
        this.toggleAll,
      ]),
      this.definition,
    ]);
    this.root.append(controls, this.scroller);
    this.keeper = new ScrollKeeper(this.scroller, () => emitExplorer(this, 'moe-ui-change', null));
    this.statSelect.addEventListener('change', () => {
      const statistic = this.data?.profile.statistics.find((s) => s.id === this.statSelect.value)?.id;
      if (statistic && statistic !== this.data?.profile.statistic) emitExplorer(this, 'moe-select-statistic', { statistic });
    });
    this.orderSelect.addEventListener('change', () => {
      const order = PROFILE_ORDERS.find((o) => o === this.orderSelect.value);
      if (!order || order === this.order) return;
      this.order = order;
      this.render();
      emitExplorer(this, 'moe-ui-change', null);
    });
    this.toggleAll.addEventListener('click', () => {
      const layers = this.data?.profile.layers.map((l) => l.layer) ?? [];
      const allOpen = layers.length > 0 && layers.every((l) => this.expanded.has(l));
      if (allOpen) this.expanded.clear();
      else for (const l of layers) this.expanded.add(l);
      this.render();
      emitExplorer(this, 'moe-ui-change', null);
    });
    this.list.addEventListener('click', (ev) => this.onClick(ev));
    this.list.addEventListener('keydown', (ev) => this.onKeyDown(ev));
    this.list.addEventListener('focusin', (ev) => {
      const bar = this.barOf(ev.target);
      if (bar) this.setTabStop(bar);
    });
  }

  get scrollPosition(): ScrollPos {
    return this.keeper.position;
  }

  get settings(): ProfilePanelSettings {
    return { order: this.order, expanded: [...this.expanded].sort((a, b) => a - b) };
  }

  restore(scroll: ScrollPos, settings: ProfilePanelSettings): void {
    this.order = settings.order;
    this.expanded.clear();
    for (const l of settings.expanded) this.expanded.add(l);
    this.keeper.restore(scroll);
    if (this.data) this.render();
  }

  update(data: ProfilePanelData): void {
    if (!sameProfile(this.data?.profile, data.profile)) this.version++;
    this.data = data;
    // A newly selected layer opens (and, if the selection moved while shown, scrolls into view).
    let reveal: number | undefined;
    if (data.selectedLayer !== undefined && data.selectedLayer !== this.lastSelectedLayer) {
      if (this.lastSelectedLayer !== undefined) reveal = data.selectedLayer;
      this.lastSelectedLayer = data.selectedLayer;
      if (!this.expanded.has(data.selectedLayer)) {
        this.expanded.add(data.selectedLayer);
        emitExplorer(this, 'moe-ui-change', null);
      }
    }
    this.updateControls(data.profile);
    this.render();
    if (reveal !== undefined) this.reveal(reveal);
  }

  /** Scrolls a layer's section to the top, unless part of it is already in view. */
  private reveal(layer: number): void {
    const section = this.list.querySelector<HTMLElement>(`section[data-layer="${layer}"]`);
    if (!section || this.scroller.clientHeight === 0) return;
    const box = this.scroller.getBoundingClientRect();
    const r = section.getBoundingClientRect();
    if (r.bottom > box.top && r.top < box.bottom) return;
    section.scrollIntoView({ block: 'start' });
  }

  private updateControls(p: ExplorerProfile): void {
    this.file.textContent = p.file;
    this.file.title = `${p.path}\nModel: ${p.model}`;
    this.figures.textContent = `${count(p.tokens)} tokens · ${count(p.documents)} document${p.documents === 1 ? '' : 's'}`;
    this.warn.hidden = !p.truncated;
    // Options are rebuilt only when the list changes, so an open dropdown is not disturbed.
    const key = p.statistics.map((s) => s.id).join(',');
    if (key !== this.optionsKey) {
      this.optionsKey = key;
      this.statSelect.replaceChildren(...p.statistics.map((s) => el('vscode-option', { text: s.name, attrs: { value: s.id, description: s.label } })));
    }
    for (const option of this.statSelect.querySelectorAll('vscode-option')) option.selected = option.value === p.statistic;
    if (this.statSelect.value !== p.statistic) this.statSelect.value = p.statistic;
    this.definition.textContent = `${p.statisticLabel}. Bars are relative to each layer's largest value.`;
  }

  private statisticName(p: ExplorerProfile): string {
    return p.statistics.find((s) => s.id === p.statistic)?.name ?? p.statistic;
  }

  /** Rebuilds the layer list when anything it shows changed; keeps keyboard focus on the same bar or header. */
  private render(): void {
    const data = this.data;
    if (!data) return;
    const p = data.profile;
    const allOpen = p.layers.length > 0 && p.layers.every((l) => this.expanded.has(l.layer));
    this.toggleAll.textContent = allOpen ? 'Collapse all' : 'Expand all';
    this.toggleAll.hidden = p.layers.length < 2;
    for (const option of this.orderSelect.querySelectorAll('vscode-option')) option.selected = option.value === this.order;
    if (this.orderSelect.value !== this.order) this.orderSelect.value = this.order;
    const key = [this.version, this.order, this.settings.expanded.join(','), data.selectedLayer, data.selectedExpert].join('|');
    if (key === this.renderedKey) return;
    this.renderedKey = key;
    const focused = this.root.activeElement instanceof HTMLElement ? this.root.activeElement : null;
    const focusLayer = focused?.dataset['layer'];
    const focusExpert = focused?.dataset['expert'];
    this.list.replaceChildren(...p.layers.map((l) => this.section(p, l, data)));
    this.empty.hidden = p.layers.length > 0;
    if (focusLayer !== undefined) {
      const selector = focusExpert !== undefined ? `.bar[data-layer="${focusLayer}"][data-expert="${focusExpert}"]` : `.lh[data-layer="${focusLayer}"]`;
      (this.list.querySelector<HTMLElement>(selector) ?? this.list.querySelector<HTMLElement>(`.lh[data-layer="${focusLayer}"]`))?.focus({ preventScroll: true });
    }
    this.keeper.contentRendered();
  }

  private section(p: ExplorerProfile, l: ExplorerProfile['layers'][number], data: ProfilePanelData): HTMLElement {
    const open = this.expanded.has(l.layer);
    const current = l.layer === data.selectedLayer;
    const name = this.statisticName(p);
    const sum = layerSummary(l.values, p.statistic);
    const rowsId = `profile-rows-${l.layer}`;
    const sumText = sum.top === undefined ? '' : `top E${sum.top} ${sum.topText}`;
    const header = el(
      'button',
      {
        className: 'lh',
        attrs: {
          type: 'button',
          'data-layer': String(l.layer),
          'aria-expanded': String(open),
          'aria-controls': rowsId,
          'aria-label': `Layer ${l.layer}${current ? ' (selected layer)' : ''}: ${sum.top === undefined ? 'no experts' : `largest ${name} ${sum.topText} for expert ${sum.top}`}${sum.zeros > 0 ? `, ${sum.zeros} at 0` : ''}`,
          ...(current ? { 'aria-current': 'true' } : {}),
        },
      },
      [
        el('span', { className: 'chev', text: open ? '▾' : '▸', attrs: { 'aria-hidden': 'true' } }),
        el('span', { className: 'name', text: `Layer ${l.layer}` }),
        el('span', { className: 'sum' }, [sumText, ...(sum.zeros > 0 ? [' · ', el('span', { className: 'zeros', text: `${sum.zeros} at 0` })] : [])]),
      ],
    );
    const rows = el('div', { className: 'rows', attrs: { id: rowsId, role: 'group', 'aria-label': `Layer ${l.layer}: ${name} per expert, ${this.order === 'value' ? 'largest first' : 'by expert id'}` } });
    rows.hidden = !open;
    if (open) rows.append(...this.bars(p, l, current ? data.selectedExpert : undefined));
    return el('section', { className: current ? 'layer current' : 'layer', attrs: { 'data-layer': String(l.layer) } }, [header, rows]);
  }

  private bars(p: ExplorerProfile, l: ExplorerProfile['layers'][number], selected: number | undefined): HTMLElement[] {
    const bars = profileBars(l.values, p.statistic, this.order);
    const name = this.statisticName(p);
    const E = l.values.length;
    const idW = `${String(Math.max(0, E - 1)).length + 1}ch`;
    const valW = `${Math.max(3, ...bars.map((b) => b.text.length))}ch`;
    const wanted = this.cursor.get(l.layer);
    const stop = wanted !== undefined && wanted < E ? wanted : selected !== undefined && selected < E ? selected : bars[0]?.expert;
    return bars.map((bar) => {
      const isSel = bar.expert === selected;
      const fill = el('span', { className: 'fill' });
      fill.style.setProperty('--w', `${bar.percent}%`);
      fill.style.setProperty('--c', expertColour(bar.expert));
      const button = el(
        'button',
        {
          className: isSel ? 'bar sel' : 'bar',
          attrs: {
            type: 'button',
            'data-layer': String(l.layer),
            'data-expert': String(bar.expert),
            'aria-pressed': String(isSel),
            'aria-label': barLabel(l.layer, bar, name, E, isSel),
            title: `Layer ${l.layer} · expert ${bar.expert}\n${name}: ${bar.text} (rank ${bar.rank} of ${E})\n${isSel ? 'Click to clear the selection' : 'Click to select this expert'}`,
          },
        },
        [el('span', { className: 'id', text: `E${bar.expert}` }), el('span', { className: 'track' }, [fill]), el('span', { className: 'val', text: bar.text })],
      );
      button.style.setProperty('--id-w', idW);
      button.style.setProperty('--val-w', valW);
      button.tabIndex = bar.expert === stop ? 0 : -1;
      return button;
    });
  }

  private barOf(target: EventTarget | null): HTMLElement | null {
    return target instanceof Element ? target.closest<HTMLElement>('.bar') : null;
  }

  private setTabStop(bar: HTMLElement): void {
    const layer = Number(bar.dataset['layer']);
    const expert = Number(bar.dataset['expert']);
    this.cursor.set(layer, expert);
    for (const b of bar.parentElement?.querySelectorAll<HTMLElement>('.bar') ?? []) b.tabIndex = b === bar ? 0 : -1;
  }

  private onClick(ev: MouseEvent): void {
    const target = ev.target instanceof Element ? ev.target : null;
    const header = target?.closest<HTMLElement>('.lh');
    if (header) {
      const layer = Number(header.dataset['layer']);
      if (this.expanded.has(layer)) this.expanded.delete(layer);
      else this.expanded.add(layer);
      this.render();
      emitExplorer(this, 'moe-ui-change', null);
      return;
    }
    const bar = this.barOf(target);
    if (!bar || !this.data) return;
    const layer = Number(bar.dataset['layer']);
    const expert = Number(bar.dataset['expert']);
    this.setTabStop(bar);
    const selected = layer === this.data.selectedLayer && expert === this.data.selectedExpert;
    emitExplorer(this, 'moe-select-expert', { layer, expert: selected ? undefined : expert });
  }

  private onKeyDown(ev: KeyboardEvent): void {
    const bar = this.barOf(ev.target);
    const group = bar?.parentElement;
    if (!bar || !group) return;
    const bars = [...group.querySelectorAll<HTMLElement>('.bar')];
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / Math.max(1, bar.offsetHeight)) - 1);
    const next = moveInList(bars.indexOf(bar), ev.key, bars.length, page);
    if (next === undefined) return;
    ev.preventDefault();
    const target = bars[next]!;
    this.setTabStop(target);
    target.focus();
  }
}

define('moe-profile-panel', ProfilePanel);
