// The done phase: how the run ended, held-out and general loss before → after, agreement with the base
// model, speed, routing drift per layer (Jaccard of the top-k sets; 1 = unchanged), how the fine-tuned
// model routes the current document differently, and the buttons to the report, the model and the folder.
import type { OutcomeView } from '../../src/protocol/trainingPanelProtocol';
import { formatFixed, formatInteger, formatPercent } from '../../src/report/formatNumbers';
import { el } from '../explorer/dom';
import { visibleToken } from '../explorer/tokenText';
import { agreementText, barPercent, lossChangeText, speedAndTimeText, stepsText } from '../training/outcomeText';
import { actionButton } from './trainingButtons';

export interface OutcomeActions {
  openReport(): void;
  openModel(): void;
  revealOutput(): void;
}

function bar(share: number, className: string): HTMLElement {
  const fill = el('span', { className: 'fill' });
  fill.style.width = `${barPercent(share)}%`; // CSSOM: allowed by the CSP
  return el('span', { className: `share-bar ${className}`, attrs: { 'aria-hidden': 'true' } }, [fill]);
}

export class TrainingOutcome {
  readonly element = el('section', { className: 'outcome', attrs: { id: 'outcome', 'aria-label': 'Outcome of the run' } });
  private readonly summary = el('dl', { className: 'outcome-summary', attrs: { id: 'outcome-summary' } });
  private readonly drift = el('div', { attrs: { id: 'routing-drift' } });
  private readonly doc = el('div', { attrs: { id: 'document-routing' } });
  private readonly actions = el('div', { className: 'actions' });
  private readonly report: HTMLElement;
  private readonly model: HTMLElement;
  private readonly reveal: HTMLElement;

  constructor(actions: OutcomeActions) {
    this.report = actionButton('open-report', 'Open Report', () => actions.openReport());
    this.model = actionButton('open-model', 'Open Fine-tuned Model', () => actions.openModel());
    this.reveal = actionButton('reveal-output', 'Reveal Output Folder', () => actions.revealOutput(), true);
    this.element.append(
      el('h2', { text: 'Outcome' }),
      this.summary,
      this.actions,
      el('h2', { text: 'Routing drift on held-out tokens' }),
      this.drift,
      el('h2', { text: 'Routing on the current document' }),
      this.doc,
    );
  }

  update(o: OutcomeView): void {
    const row = (term: string, value: string | undefined): HTMLElement[] => (value === undefined ? [] : [el('dt', { text: term }), el('dd', { text: value })]);
    this.summary.replaceChildren(
      ...row('Steps', stepsText(o)),
      ...row('Held-out loss', lossChangeText(o.evalBefore, o.evalAfter)),
      ...row('General loss', lossChangeText(o.generalBefore, o.generalAfter)),
      ...row('Agreement', agreementText(o)),
      ...row('Speed', speedAndTimeText(o)),
      ...row(o.checkpointDir ? 'Checkpoint' : 'Adapter', o.checkpointDir ?? o.adapterDir),
      ...row('Adapter', o.checkpointDir ? o.adapterDir : undefined),
    );
    // Left out rather than hidden when they do not apply: an adapter alone is no model (its folder has the report).
    this.actions.replaceChildren(...(o.reportFile !== undefined ? [this.report] : []), ...(o.checkpointDir !== undefined ? [this.model] : []), this.reveal);
    this.renderDrift(o);
    this.renderDocument(o);
  }

  private renderDrift(o: OutcomeView): void {
    if (o.routingDrift.length === 0) {
      this.drift.replaceChildren(el('p', { className: 'help', text: 'Not measured (no held-out data).' }));
      return;
    }
    const rows = o.routingDrift.map((d) =>
      el('tr', {}, [el('th', { text: `Layer ${d.layer}`, attrs: { scope: 'row' } }), el('td', { className: 'num', text: formatFixed(d.jaccard, 3) }), el('td', { className: 'bar-cell' }, [bar(d.jaccard, 'kept')])]),
    );
    this.drift.replaceChildren(
      el('p', { className: 'help', text: 'Jaccard similarity of each held-out token’s top-k experts before and after: 1 = routed as before.' }),
      el('table', { className: 'drift', attrs: { 'aria-label': 'Routing drift per layer' } }, [
        el('thead', {}, [el('tr', {}, ['Layer', 'Jaccard', ''].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
        el('tbody', {}, rows),
      ]),
    );
  }

  private renderDocument(o: OutcomeView): void {
    const d = o.document;
    if (!d) {
      this.doc.replaceChildren(el('p', { className: 'help', text: o.documentNote ?? 'Not measured.' }));
      return;
    }
    const rows = d.layers.map((l) =>
      el('tr', {}, [el('th', { text: `Layer ${l.layer}`, attrs: { scope: 'row' } }), el('td', { className: 'num', text: formatPercent(l.share) }), el('td', { className: 'bar-cell' }, [bar(l.share, 'changed')])]),
    );
    const examples = d.examples.map((x) => el('li', {}, [el('code', { text: visibleToken(x.text) }), ` layer${x.layers.length === 1 ? '' : 's'} ${x.layers.join(', ')}`]));
    this.doc.replaceChildren(
      el('p', { text: `${d.document}: ${formatInteger(d.tokens)} tokens, ${formatInteger(d.changedPredictions)} next-token predictions changed.` }),
      el('table', { className: 'drift', attrs: { 'aria-label': 'Share of the document’s tokens whose experts changed, per layer' } }, [
        el('thead', {}, [el('tr', {}, ['Layer', 'Experts changed', ''].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
        el('tbody', {}, rows),
      ]),
      ...(examples.length > 0 ? [el('p', { className: 'help', text: 'Tokens routed to other experts:' }), el('ul', { className: 'examples' }, examples)] : []),
      ...(o.documentNote ? [el('p', { className: 'help', text: o.documentNote })] : []),
    );
  }
}
