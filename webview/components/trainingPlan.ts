// The setup phase: what the data is, the preview with its chat mask, the experts that will train (editable
// per layer, with the trainable parameters recomputed on every toggle), the settings, and Start. The
// panel edits a copy of the host's plan; edits survive a state about the same plan (Start refused).
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { TrainingPlanView, TrainingSettings, TrainingViewState } from '../../src/protocol/trainingPanelProtocol';
import { formatInteger, formatParams, formatPercent } from '../../src/report/formatNumbers';
import { el } from '../explorer/dom';
import { editedSelection, planKey, sameSelection, selectionEmpty, selectionFromPlan, toggleExpert, trainableParameters, type SelectionDraft } from '../training/selection';
import { checkSettings, settingsInput, type SettingsField } from '../training/settingsForm';
import { setEnabled } from './trainingButtons';
import { trainingPreview } from './trainingPreview';
import { TrainingSelectionGrid } from './trainingSelectionGrid';
import { errorId, TrainingSettingsForm } from './trainingSettingsForm';

export interface StartRequest {
  readonly selection: ReturnType<typeof editedSelection>;
  readonly settings: TrainingSettings;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${formatInteger(n)} ${n === 1 ? one : many}`;

export class TrainingPlan {
  readonly element = el('section', { className: 'setup', attrs: { id: 'setup', 'aria-label': 'Plan of the run' } });
  private readonly data = el('dl', { className: 'data-summary', attrs: { id: 'data-summary' } });
  private readonly previewHost = el('div');
  private readonly grid = new TrainingSelectionGrid((layer, expert) => this.toggle(layer, expert));
  private readonly params = el('p', { className: 'params', attrs: { id: 'trainable', 'aria-live': 'polite' } });
  private readonly other = el('p', { className: 'help' });
  private readonly selectionError = el('p', { className: 'field-error', attrs: { id: errorId('selection'), role: 'alert' } });
  private readonly reset = el('vscode-button', { text: 'Reset to the ESFT selection', attrs: { id: 'reset-selection', secondary: '' } });
  private readonly form = new TrainingSettingsForm(() => this.refresh());
  private readonly start = el('vscode-button', { text: 'Start Training', attrs: { id: 'start' } });
  private readonly startHint = el('p', { className: 'help', attrs: { id: 'start-hint' } });
  /** The host's refusal of Start when it names no field. */
  private readonly startError = el('p', { className: 'field-error', attrs: { id: 'error-start', role: 'alert' } });
  private plan: TrainingPlanView | undefined;
  private key = '';
  private proposed: SelectionDraft = new Map();
  private draft: SelectionDraft = new Map();
  private hostSelectionError: string | undefined;
  /** Start was pressed and the host has not answered yet. */
  private pending = false;

  constructor(onStart: (req: StartRequest) => void) {
    this.element.append(
      el('h2', { text: 'Data' }),
      this.data,
      this.previewHost,
      el('h2', { text: 'Experts to train' }),
      el('div', { className: 'selection-bar' }, [this.params, this.reset]),
      this.other,
      this.selectionError,
      this.grid.element,
      el('h2', { text: 'Settings' }),
      this.form.element,
      el('div', { className: 'actions' }, [this.start, this.startHint]),
      this.startError,
    );
    this.reset.addEventListener('click', () => {
      if (this.reset.disabled) return;
      this.hostSelectionError = undefined;
      this.setDraft(this.proposed);
    });
    this.start.addEventListener('click', () => {
      const req = this.request();
      if (!req || this.start.disabled) return;
      this.pending = true;
      this.refresh();
      onStart(req);
    });
  }

  /** Shows the state's plan; a new plan replaces the user's edits, the same plan keeps them. */
  update(state: TrainingViewState): void {
    const plan = state.plan;
    if (!plan) return;
    const key = planKey(plan);
    if (key !== this.key) {
      this.key = key;
      this.proposed = selectionFromPlan(plan);
      this.draft = this.proposed;
      this.renderData(plan);
      this.grid.build(plan, this.draft);
      this.form.fill(settingsInput(plan.settings));
      this.reset.textContent = plan.method ? 'Reset to the ESFT selection' : 'Reset to the proposed selection';
    }
    this.plan = plan;
    this.pending = false;
    const field = state.errorField;
    this.hostSelectionError = state.error !== undefined && field === 'selection' ? state.error : undefined;
    const general = state.error !== undefined && field === undefined ? state.error : '';
    this.startError.textContent = general;
    this.startError.hidden = general === '';
    this.form.setHostError(state.error !== undefined && field !== undefined && field !== 'selection' ? { field: field as SettingsField, message: state.error } : undefined);
    this.refresh();
  }

  private toggle(layer: number, expert: number): void {
    if (!this.plan || this.pending) return;
    this.hostSelectionError = undefined;
    this.setDraft(toggleExpert(this.plan, this.draft, layer, expert));
  }

  private setDraft(draft: SelectionDraft): void {
    this.draft = draft;
    if (this.plan) this.grid.update(this.plan, draft);
    this.refresh();
  }

  private request(): StartRequest | undefined {
    if (!this.plan || selectionEmpty(this.plan, this.draft)) return undefined;
    const settings = checkSettings(this.form.read()).settings;
    return settings ? { selection: editedSelection(this.draft), settings } : undefined;
  }

  private refresh(): void {
    const plan = this.plan;
    if (!plan) return;
    const t = trainableParameters(plan, this.draft);
    this.params.textContent = `${plural(t.experts, 'expert')} selected · ${formatParams(t.trainable)} trainable parameters (${formatInteger(t.trainable)}), ${formatPercent(t.share)} of ${formatParams(t.total)}`;
    this.other.textContent = plan.otherParameters > 0 ? `Also trained: ${formatParams(plan.otherParameters)} parameters in ${plan.otherTensors.join(', ') || 'other tensors'}.` : '';
    this.other.hidden = plan.otherParameters <= 0;
    setEnabled(this.reset, !sameSelection(this.draft, this.proposed) && !this.pending);
    const empty = selectionEmpty(plan, this.draft);
    const selectionMessage = empty ? 'Nothing is selected: choose at least one expert.' : this.hostSelectionError;
    this.selectionError.textContent = selectionMessage ?? '';
    this.selectionError.hidden = selectionMessage === undefined;
    const check = checkSettings(this.form.read());
    this.form.showErrors(check.errors);
    this.form.setDisabled(this.pending);
    const invalid = Object.keys(check.errors).length;
    setEnabled(this.start, !empty && invalid === 0 && !this.pending);
    this.startHint.textContent = this.pending ? 'Starting…' : empty ? 'Select at least one expert to start.' : invalid > 0 ? 'Correct the settings marked above to start.' : '';
  }

  private renderData(plan: TrainingPlanView): void {
    const d = plan.data;
    const row = (term: string, value: string): HTMLElement[] => [el('dt', { text: term }), el('dd', { text: value })];
    const files = d.files.length <= 3 ? d.files.join(', ') : `${d.files.slice(0, 3).join(', ')} and ${formatInteger(d.files.length - 3)} more`;
    this.data.replaceChildren(
      ...row('Model', plan.modelName),
      ...row('Selection', plan.selectionLabel),
      ...row(d.files.length === 1 ? 'File' : 'Files', files || '—'),
      ...row('Sequences', `${plural(d.sequences, 'sequence')} of up to ${formatInteger(d.seqLen)} tokens (${plural(d.tokens, 'token')})`),
      ...row('Trained targets', `${plural(d.trainedTargets, 'next-token target')}${d.chatRecords > 0 ? `; ${plural(d.chatRecords, 'chat record')}, prompt tokens not trained on` : ''}`),
      ...row('Held out', d.heldOut),
    );
    const filesDd = this.data.querySelectorAll('dd')[2];
    if (filesDd) filesDd.title = d.files.join('\n');
    this.previewHost.replaceChildren(trainingPreview(d.preview));
  }
}
