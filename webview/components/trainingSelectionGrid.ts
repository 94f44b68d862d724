// The experts that train, per MoE layer: one toggle chip per expert (aria-pressed), with its ESFT score as
// a number and a bar when the plan has scores, and "selected k of E" per layer. The grid only shows a
// draft; the plan panel owns it and redraws after every toggle (chips are updated in place, so focus stays).
import type { TrainingPlanView } from '../../src/protocol/trainingPanelProtocol';
import { formatInteger, formatScore } from '../../src/report/formatNumbers';
import { el } from '../explorer/dom';
import { chipScore, scorePercent } from '../training/format';
import type { SelectionDraft } from '../training/selection';

export class TrainingSelectionGrid {
  readonly element = el('div', { className: 'selection', attrs: { id: 'selection' } });
  private chips = new Map<string, HTMLButtonElement>();
  private counts = new Map<number, HTMLElement>();

  /** `onToggle` gets the chip's layer and expert. */
  constructor(onToggle: (layer: number, expert: number) => void) {
    this.element.addEventListener('click', (ev) => {
      const chip = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>('button.expert') : null;
      if (!chip) return;
      onToggle(Number(chip.dataset['layer']), Number(chip.dataset['expert']));
    });
    // Arrow keys move along a layer's chips (Tab would walk every chip of every layer).
    this.element.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
      const chip = ev.target instanceof Element ? ev.target.closest<HTMLButtonElement>('button.expert') : null;
      const next = ev.key === 'ArrowRight' ? chip?.nextElementSibling : chip?.previousElementSibling;
      if (next instanceof HTMLButtonElement) {
        next.focus();
        ev.preventDefault();
      }
    });
  }

  /** Builds the rows of a (new) plan. */
  build(plan: TrainingPlanView, draft: SelectionDraft): void {
    this.chips = new Map();
    this.counts = new Map();
    const rows = plan.layers.map((l) => {
      const max = l.scores ? Math.max(0, ...l.scores.filter(Number.isFinite)) : 0;
      const chips = Array.from({ length: l.numExperts }, (_, e) => {
        const score = l.scores?.[e];
        const children: Node[] = [el('span', { className: 'id', text: String(e) })];
        if (l.scores) {
          const bar = el('span', { className: 'bar', attrs: { 'aria-hidden': 'true' } });
          // CSSOM, not a style attribute: allowed by the CSP.
          bar.style.width = `${scorePercent(score, max)}%`;
          children.push(el('span', { className: 'score', text: chipScore(score) }), bar);
        }
        const chip = el('button', {
          className: 'expert',
          attrs: { type: 'button', 'data-layer': String(l.layer), 'data-expert': String(e), 'aria-pressed': 'false', title: `Layer ${l.layer}, expert ${e}${score !== undefined ? ` · ESFT score ${formatScore(score)}` : ''}` },
        }, children);
        this.chips.set(`${l.layer}:${e}`, chip);
        return chip;
      });
      const count = el('span', { className: 'count' });
      this.counts.set(l.layer, count);
      return el('div', { className: 'layer-row', attrs: { 'data-layer': String(l.layer) } }, [
        el('div', { className: 'layer-head' }, [el('span', { className: 'layer-name', text: `Layer ${l.layer}` }), count, el('span', { className: 'per-expert', text: `${formatInteger(l.expertParameters)} parameters per expert` })]),
        el('div', { className: 'chips', attrs: { role: 'group', 'aria-label': `Experts of layer ${l.layer}` } }, chips),
      ]);
    });
    this.element.replaceChildren(...rows);
    this.update(plan, draft);
  }

  /** Shows the draft on the chips and counts. */
  update(plan: TrainingPlanView, draft: SelectionDraft): void {
    for (const l of plan.layers) {
      const selected = draft.get(l.layer) ?? new Set<number>();
      for (let e = 0; e < l.numExperts; e++) {
        // Only the chips that changed: a large model has thousands.
        const chip = this.chips.get(`${l.layer}:${e}`);
        const pressed = String(selected.has(e));
        if (chip && chip.getAttribute('aria-pressed') !== pressed) chip.setAttribute('aria-pressed', pressed);
      }
      const count = this.counts.get(l.layer);
      if (count) count.textContent = `selected ${formatInteger(selected.size)} of ${formatInteger(l.numExperts)}`;
    }
  }
}
