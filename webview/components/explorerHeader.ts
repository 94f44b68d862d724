// <moe-explorer-header>: model, document, token count and the layer picker, or the reason there is
// nothing to show.
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import type { ExplorerState } from '../../src/protocol/explorerProtocol';
import { define, el, ShadowElement, sheet } from '../explorer/dom';
import { emitExplorer } from '../explorer/events';
import { count } from '../explorer/labels';

const styles = sheet(`
  :host { display: block; padding: 8px 8px 6px; }
  .model { display: flex; align-items: center; gap: 6px; min-width: 0; }
  .name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; }
  vscode-badge { flex: none; }
  .doc { display: flex; gap: 6px; margin-top: 2px; color: var(--vscode-descriptionForeground); white-space: nowrap; min-width: 0; }
  .doc .file { overflow: hidden; text-overflow: ellipsis; min-width: 0; color: var(--vscode-foreground); }
  .doc .progress { color: var(--vscode-charts-yellow, var(--vscode-descriptionForeground)); }
  .layer { display: flex; align-items: center; gap: 8px; margin-top: 8px; }
  .layer label { color: var(--vscode-descriptionForeground); }
  vscode-single-select { flex: 1 1 auto; min-width: 0; width: auto; max-width: 180px; }
  .message { margin: 8px 0 0; color: var(--vscode-descriptionForeground); line-height: 1.4; }
  [hidden] { display: none !important; }
`);

export class ExplorerHeader extends ShadowElement {
  private readonly name = el('span', { className: 'name' });
  private readonly badge = el('vscode-badge');
  private readonly model = el('div', { className: 'model' }, [this.name, this.badge]);
  private readonly file = el('span', { className: 'file' });
  private readonly tokens = el('span');
  private readonly progress = el('span', { className: 'progress' });
  private readonly doc = el('div', { className: 'doc' }, [this.file, el('span', { text: '·', attrs: { 'aria-hidden': 'true' } }), this.tokens, this.progress]);
  private readonly select = el('vscode-single-select', { attrs: { id: 'layer', 'aria-label': 'MoE layer' } });
  private readonly layer = el('div', { className: 'layer' }, [el('label', { text: 'Layer', attrs: { for: 'layer' } }), this.select]);
  private readonly message = el('p', { className: 'message', attrs: { role: 'status' } });
  private layersKey = '';

  constructor() {
    super([styles]);
    this.root.append(this.model, this.doc, this.layer, this.message);
    this.select.addEventListener('change', () => {
      const layer = Number(this.select.value);
      if (this.select.value !== '' && Number.isInteger(layer)) emitExplorer(this, 'moe-select-layer', { layer });
    });
  }

  update(state: ExplorerState): void {
    const { model, document: doc } = state;
    this.model.hidden = !model;
    this.layer.hidden = !model || model.moeLayers.length === 0;
    this.doc.hidden = !doc;
    if (model) {
      this.name.textContent = model.untrained ? `${model.name} (untrained)` : model.name;
      this.name.title = model.untrained ?? model.name;
      this.badge.textContent = `${model.numExperts} experts · top-${model.topK}`;
      this.updateLayers(model.moeLayers, state.selectedLayer);
    }
    if (doc) {
      this.file.textContent = doc.name;
      this.file.title = doc.uri;
      this.tokens.textContent = `${count(doc.tokens.length)} tokens`;
      const known = doc.known.reduce((n, k) => n + (k ? 1 : 0), 0);
      this.progress.textContent = doc.complete ? '' : `· ${count(known)} analysed`;
    }
    const text = state.message ?? (!model ? 'No model is open.' : !doc ? 'No annotated document.' : '');
    this.message.textContent = text;
    this.message.hidden = text === '';
  }

  private updateLayers(layers: readonly number[], selected: number | undefined): void {
    // Options are rebuilt only when the model's layers change, so an open dropdown is not disturbed.
    const key = layers.join(',');
    if (key !== this.layersKey) {
      this.layersKey = key;
      this.select.replaceChildren(...layers.map((l) => el('vscode-option', { text: `Layer ${l}`, attrs: { value: String(l) } })));
    }
    const value = selected === undefined ? '' : String(selected);
    for (const option of this.select.querySelectorAll('vscode-option')) option.selected = option.value === value;
    if (this.select.value !== value && value !== '') this.select.value = value;
  }
}

define('moe-explorer-header', ExplorerHeader);
