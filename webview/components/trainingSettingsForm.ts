// The run's settings: steps, learning rate, optimizer, schedule, warm-up, batch tokens, seed, output folder
// and "adapter only", prefilled from the plan. Each field has its error line beside it, for the form's own
// checks (settingsForm.ts) and for the host's refusal of Start (shown until that field is edited). No
// <form>: the CSP forbids submitting, and Start posts a message. The text fields are native inputs (with
// VS Code's input colours): a native <label for> names them, and the e2e tests fill them as inputs.
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import { el } from '../explorer/dom';
import type { SettingsErrors, SettingsField, SettingsInput } from '../training/settingsForm';

type TextField = Exclude<SettingsField, 'optimizer' | 'schedule' | 'adapterOnly'>;

const TEXT_FIELDS: readonly (readonly [TextField, string, string])[] = [
  ['steps', 'Steps', 'Optimizer steps to run.'],
  ['lr', 'Learning rate', 'Peak learning rate, e.g. 1e-4.'],
  ['warmup', 'Warm-up steps', 'Steps of linear warm-up; fewer than the run.'],
  ['batchTokens', 'Batch tokens', 'Tokens per optimizer step (gradients are accumulated over sequences).'],
  ['seed', 'Seed', 'The same seed and data give the same result, byte for byte.'],
];

/** The id of a field's control (the e2e tests use these): "steps", "batch-tokens", "out-dir", … */
export const fieldId = (f: SettingsField): string => f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const errorId = (f: SettingsField | 'selection'): string => `error-${f === 'selection' ? f : fieldId(f)}`;

function select(id: string, options: readonly (readonly [string, string])[]): VscodeSingleSelect {
  return el('vscode-single-select', { attrs: { id } }, options.map(([value, text]) => el('vscode-option', { text, attrs: { value } })));
}

export class TrainingSettingsForm {
  readonly element = el('div', { className: 'settings', attrs: { id: 'settings' } });
  private readonly text = new Map<TextField, HTMLInputElement>();
  private readonly optimizer = select(fieldId('optimizer'), [['adamw', 'AdamW'], ['sgd', 'SGD']]);
  private readonly schedule = select(fieldId('schedule'), [['cosine', 'Cosine'], ['constant', 'Constant']]);
  private readonly outDir = el('input', { className: 'text', attrs: { type: 'text', id: fieldId('outDir'), spellcheck: 'false', 'aria-describedby': errorId('outDir') } });
  private readonly adapterOnly = el('vscode-checkbox', { attrs: { id: fieldId('adapterOnly'), label: 'Write only the adapter (the changed tensors), not the full checkpoint' } });
  private readonly errors = new Map<SettingsField, HTMLElement>();
  /** The selects' values as last set or chosen: vscode-single-select reports '' until its options render. */
  private chosen = { optimizer: '', schedule: '' };
  /** The host's refusal, until the user edits its field. */
  private hostError: { readonly field: SettingsField; readonly message: string } | undefined;

  constructor(onChange: () => void) {
    const field = (f: SettingsField, label: string | undefined, control: HTMLElement, help?: string): HTMLElement => {
      const error = el('p', { className: 'field-error', attrs: { id: errorId(f), role: 'alert' } });
      error.hidden = true;
      this.errors.set(f, error);
      // vscode-label names the vscode-elements controls; a native label the native inputs.
      const name = label === undefined ? [] : [control instanceof HTMLInputElement ? el('label', { text: label, attrs: { for: fieldId(f) } }) : el('vscode-label', { text: label, attrs: { for: fieldId(f) } })];
      return el('div', { className: `field field-${fieldId(f)}` }, [...name, control, ...(help ? [el('p', { className: 'help', text: help })] : []), error]);
    };
    const fields: HTMLElement[] = [];
    for (const [f, label, help] of TEXT_FIELDS) {
      const input = el('input', { className: 'text', attrs: { type: 'text', id: fieldId(f), inputmode: f === 'lr' ? 'decimal' : 'numeric', spellcheck: 'false', 'aria-describedby': errorId(f) } });
      this.text.set(f, input);
      fields.push(field(f, label, input, help));
    }
    fields.splice(2, 0, field('optimizer', 'Optimizer', this.optimizer), field('schedule', 'Schedule', this.schedule));
    this.element.append(
      el('div', { className: 'fields' }, fields),
      field('outDir', 'Output folder', this.outDir, 'A new folder; the fine-tuned checkpoint (or the adapter) is written there.'),
      field('adapterOnly', undefined, this.adapterOnly),
    );
    const changed = (f: SettingsField): void => {
      if (this.hostError?.field === f) this.hostError = undefined;
      onChange();
    };
    for (const [f, input] of this.text) input.addEventListener('input', () => changed(f));
    this.outDir.addEventListener('input', () => changed('outDir'));
    for (const f of ['optimizer', 'schedule'] as const) {
      this[f].addEventListener('change', () => {
        this.chosen = { ...this.chosen, [f]: this[f].value };
        changed(f);
      });
    }
    this.adapterOnly.addEventListener('change', () => changed('adapterOnly'));
  }

  fill(input: SettingsInput): void {
    for (const [f, control] of this.text) control.value = input[f];
    this.outDir.value = input.outDir;
    this.setSelect(this.optimizer, input.optimizer);
    this.setSelect(this.schedule, input.schedule);
    this.chosen = { optimizer: input.optimizer, schedule: input.schedule };
    this.adapterOnly.checked = input.adapterOnly;
  }

  read(): SettingsInput {
    const t = (f: TextField): string => this.text.get(f)?.value ?? '';
    return { steps: t('steps'), lr: t('lr'), optimizer: this.chosen.optimizer, schedule: this.chosen.schedule, warmup: t('warmup'), batchTokens: t('batchTokens'), seed: t('seed'), outDir: this.outDir.value, adapterOnly: this.adapterOnly.checked };
  }

  setHostError(error: { readonly field: SettingsField; readonly message: string } | undefined): void {
    this.hostError = error;
  }

  /** The form's own errors, and the host's beside its field when the form has none there. */
  showErrors(errors: SettingsErrors): void {
    for (const [f, line] of this.errors) {
      const message = errors[f] ?? (this.hostError?.field === f ? this.hostError.message : undefined);
      line.textContent = message ?? '';
      line.hidden = message === undefined;
      const control = this.control(f);
      if (control instanceof HTMLInputElement) control.setAttribute('aria-invalid', String(message !== undefined));
      else if (control) control.invalid = message !== undefined;
    }
  }

  setDisabled(disabled: boolean): void {
    for (const c of [...this.text.values(), this.outDir, this.optimizer, this.schedule, this.adapterOnly]) c.disabled = disabled;
  }

  private control(f: SettingsField): HTMLInputElement | VscodeSingleSelect | VscodeCheckbox | undefined {
    if (f === 'optimizer') return this.optimizer;
    if (f === 'schedule') return this.schedule;
    if (f === 'outDir') return this.outDir;
    if (f === 'adapterOnly') return this.adapterOnly;
    return this.text.get(f);
  }

  private setSelect(s: VscodeSingleSelect, value: string): void {
    for (const option of s.querySelectorAll('vscode-option')) option.selected = option.value === value;
    s.value = value;
  }
}
