// <moe-explorer-app>: the header plus three tabs (token heatmap, load matrix, balance table). It owns the
// last ExplorerState from the host and the persisted UI state, and turns component events into messages.
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import type { ExplorerState, ExplorerToHost } from '../../src/protocol/explorerProtocol';
import { define, el, ShadowElement, sheet } from '../explorer/dom';
import { onExplorer } from '../explorer/events';
import { PANELS, type ExplorerUiState, type PanelId } from '../explorer/uiState';
import { BalanceTable } from './balanceTable';
import { ExplorerHeader } from './explorerHeader';
import { LoadMatrix } from './loadMatrix';
import { TokenHeatmap } from './tokenHeatmap';

const styles = sheet(`
  :host { display: flex; flex-direction: column; height: 100%; min-height: 0; }
  moe-explorer-header { flex: none; }
  vscode-tabs { display: flex; flex-direction: column; flex: 1 1 0; min-height: 0; }
  vscode-tab-panel { flex: 1 1 0; min-height: 0; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
  [hidden] { display: none !important; }
`);

const TAB_TITLES: Readonly<Record<PanelId, string>> = { tokens: 'Tokens', load: 'Load', balance: 'Balance' };

/** What the app needs from its surroundings (the VS Code webview API in production, fakes in tests). */
export interface ExplorerHost {
  post(msg: ExplorerToHost): void;
  saveUi(state: ExplorerUiState): void;
}

export class ExplorerApp extends ShadowElement {
  private readonly header = new ExplorerHeader();
  private readonly heatmap = new TokenHeatmap();
  private readonly loadMatrix = new LoadMatrix();
  private readonly balance = new BalanceTable();
  private readonly tabs = el('vscode-tabs');
  private readonly live = el('div', { className: 'sr-only', attrs: { 'aria-live': 'polite' } });
  private state: ExplorerState | undefined;
  private ui: ExplorerUiState | undefined;
  private host: ExplorerHost | undefined;
  private saveTimer = 0;
  private revealed: number | undefined;

  constructor() {
    super([styles]);
    const panels: Readonly<Record<PanelId, HTMLElement>> = { tokens: this.heatmap, load: this.loadMatrix, balance: this.balance };
    this.tabs.append(
      ...PANELS.map((p) => el('vscode-tab-header', { text: TAB_TITLES[p], attrs: { slot: 'header' } })),
      ...PANELS.map((p) => el('vscode-tab-panel', {}, [panels[p]])),
    );
    this.tabs.hidden = true;
    this.root.append(this.header, this.tabs, this.live);
    this.tabs.addEventListener('vsc-tabs-select', () => this.saveSoon());
    onExplorer(this, 'moe-ui-change', () => this.saveSoon());
    onExplorer(this, 'moe-reveal-token', ({ index }) => this.host?.post({ type: 'revealToken', index }));
    onExplorer(this, 'moe-select-layer', ({ layer }) => this.host?.post({ type: 'selectLayer', layer }));
    onExplorer(this, 'moe-select-expert', ({ expert }) => {
      const layer = this.state?.selectedLayer;
      if (layer === undefined) return;
      this.host?.post({ type: 'selectExpert', layer, expert });
      this.live.textContent = expert === undefined ? 'Expert selection cleared' : `Expert ${expert} selected`;
    });
  }

  /** Wires the host and restores the UI state persisted by a previous instance of this view. */
  connect(host: ExplorerHost, ui: ExplorerUiState): void {
    this.host = host;
    this.ui = ui;
    this.revealed = ui.revealed;
    this.tabs.selectedIndex = Math.max(0, PANELS.indexOf(ui.tab));
    this.heatmap.restore(ui.scroll.tokens, ui.focus);
    this.loadMatrix.restore(ui.scroll.load);
    this.balance.restore(ui.scroll.balance);
  }

  setState(state: ExplorerState): void {
    const previousUri = this.state?.document?.uri ?? this.ui?.uri;
    this.state = state;
    this.header.update(state);
    const { model, document: doc } = state;
    this.tabs.hidden = !model || !doc;
    if (!model || !doc) return;
    if (previousUri !== undefined && previousUri !== doc.uri) this.resetPositions();
    const layerBalance = doc.balance.find((b) => b.layer === state.selectedLayer);
    this.heatmap.update({ tokens: doc.tokens, known: doc.known, routing: doc.routing, load: layerBalance?.load, numExperts: model.numExperts, layer: state.selectedLayer, selectedExpert: state.selectedExpert });
    this.loadMatrix.update({ balance: doc.balance, numExperts: model.numExperts, topK: model.topK, selectedLayer: state.selectedLayer });
    this.balance.update({ balance: doc.balance, selectedLayer: state.selectedLayer });
    // The host repeats revealedToken in every state; act only when it changes.
    if (state.revealedToken !== undefined && state.revealedToken !== this.revealed) {
      this.revealed = state.revealedToken;
      this.tabs.selectedIndex = PANELS.indexOf('tokens');
      this.heatmap.revealToken(state.revealedToken);
      this.saveSoon();
    }
  }

  /** Another document: start at its top. */
  private resetPositions(): void {
    const origin = { top: 0, left: 0 };
    this.heatmap.restore(origin, { row: 1, col: 1 });
    this.loadMatrix.restore(origin);
    this.balance.restore(origin);
    this.revealed = undefined;
  }

  private saveSoon(): void {
    if (this.saveTimer !== 0) return;
    this.saveTimer = window.setTimeout(() => {
      this.saveTimer = 0;
      this.save();
    }, 150);
  }

  private save(): void {
    if (!this.host) return;
    const tab = PANELS[this.tabs.selectedIndex] ?? 'tokens';
    this.ui = {
      tab,
      scroll: { tokens: this.heatmap.scrollPosition, load: this.loadMatrix.scrollPosition, balance: this.balance.scrollPosition },
      focus: this.heatmap.focusedCell,
      uri: this.state?.document?.uri ?? this.ui?.uri,
      revealed: this.revealed,
    };
    this.host.saveUi(this.ui);
  }
}

define('moe-explorer-app', ExplorerApp);
