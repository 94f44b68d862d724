// <moe-explorer-app>: the header plus three tabs (token heatmap, load matrix, balance table) about the
// annotated document, and a fourth, Profile, while the host has an expert profile. It owns the last
// ExplorerState from the host and the persisted UI state, and turns component events into messages.
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import type { ExplorerState, ExplorerToHost } from '../../src/protocol/explorerProtocol';
import { define, el, ShadowElement, sheet } from '../explorer/dom';
import { onExplorer } from '../explorer/events';
import { revealStep } from '../explorer/revealStep';
import { DEFAULT_PROFILE_UI, PANELS, type ExplorerUiState, type PanelId } from '../explorer/uiState';
import { BalanceTable } from './balanceTable';
import { ColourLegend } from './colourLegend';
import { ExplorerHeader } from './explorerHeader';
import { LoadMatrix } from './loadMatrix';
import { ProfilePanel } from './profilePanel';
import { TokenHeatmap } from './tokenHeatmap';

const styles = sheet(`
  :host { display: flex; flex-direction: column; height: 100%; min-height: 0; }
  moe-explorer-header, moe-colour-legend { flex: none; }
  vscode-tabs { display: flex; flex-direction: column; flex: 1 1 0; min-height: 0; }
  vscode-tab-panel { flex: 1 1 0; min-height: 0; }
  .no-doc { margin: 0; padding: 12px 8px; color: var(--vscode-descriptionForeground); line-height: 1.4; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
  [hidden] { display: none !important; }
`);

const TAB_TITLES: Readonly<Record<PanelId, string>> = { tokens: 'Tokens', load: 'Load', balance: 'Balance', profile: 'Profile' };
/** The tabs about the annotated document; the profile tab follows them. */
const DOC_PANELS = ['tokens', 'load', 'balance'] as const satisfies readonly PanelId[];
const PROFILE_INDEX = PANELS.indexOf('profile');

/** What the app needs from its surroundings (the VS Code webview API in production, fakes in tests). */
export interface ExplorerHost {
  post(msg: ExplorerToHost): void;
  saveUi(state: ExplorerUiState): void;
}

export class ExplorerApp extends ShadowElement {
  private readonly header = new ExplorerHeader();
  /** The key to the editor's token colours (decorations), for the current colour mode. */
  private readonly legend = new ColourLegend();
  private readonly heatmap = new TokenHeatmap();
  private readonly loadMatrix = new LoadMatrix();
  private readonly balance = new BalanceTable();
  private readonly profile = new ProfilePanel();
  private readonly tabs = el('vscode-tabs');
  private readonly profileHeader = el('vscode-tab-header', { text: TAB_TITLES.profile, attrs: { slot: 'header' } });
  private readonly profilePanel = el('vscode-tab-panel', {}, [this.profile]);
  /** Shown in the document tabs when there is a profile but no annotated document. */
  private readonly noDoc: readonly HTMLElement[] = DOC_PANELS.map(() => el('p', { className: 'no-doc', text: 'No annotated document. Open a .prompt file, or run "MoE: Annotate Editor" on any file.' }));
  /** Tab the user chose before the profile tab existed (restored UI state), applied when it appears. */
  private wantedTab: PanelId | undefined;
  private seenProfile: string | undefined;
  private readonly live = el('div', { className: 'sr-only', attrs: { 'aria-live': 'polite' } });
  private state: ExplorerState | undefined;
  private ui: ExplorerUiState | undefined;
  private host: ExplorerHost | undefined;
  private saveTimer = 0;
  private revealed: number | undefined;

  constructor() {
    super([styles]);
    const panels = [this.heatmap, this.loadMatrix, this.balance] as const;
    this.tabs.append(
      ...DOC_PANELS.map((p) => el('vscode-tab-header', { text: TAB_TITLES[p], attrs: { slot: 'header' } })),
      ...DOC_PANELS.map((_, i) => el('vscode-tab-panel', {}, [panels[i], this.noDoc[i]!])),
    );
    this.tabs.hidden = true;
    this.root.append(this.header, this.legend, this.tabs, this.live);
    this.tabs.addEventListener('vsc-tabs-select', () => {
      this.wantedTab = undefined;
      this.saveSoon();
    });
    onExplorer(this, 'moe-ui-change', () => this.saveSoon());
    onExplorer(this, 'moe-reveal-token', ({ index }) => this.host?.post({ type: 'revealToken', index }));
    onExplorer(this, 'moe-select-layer', ({ layer }) => this.host?.post({ type: 'selectLayer', layer }));
    onExplorer(this, 'moe-select-expert', ({ expert, layer: inLayer }) => {
      const layer = inLayer ?? this.state?.selectedLayer;
      if (layer === undefined) return;
      this.host?.post({ type: 'selectExpert', layer, expert });
      const where = inLayer !== undefined && inLayer !== this.state?.selectedLayer ? ` in layer ${inLayer}` : '';
      this.live.textContent = expert === undefined ? 'Expert selection cleared' : `Expert ${expert}${where} selected`;
    });
    onExplorer(this, 'moe-select-statistic', ({ statistic }) => this.host?.post({ type: 'selectStatistic', statistic }));
  }

  /** Wires the host and restores the UI state persisted by a previous instance of this view. */
  connect(host: ExplorerHost, ui: ExplorerUiState): void {
    this.host = host;
    this.ui = ui;
    this.revealed = ui.revealed;
    this.seenProfile = ui.profile.seen;
    if (ui.tab === 'profile' && !this.hasProfileTab) this.wantedTab = 'profile';
    else this.tabs.selectedIndex = Math.max(0, PANELS.indexOf(ui.tab));
    this.heatmap.restore(ui.scroll.tokens, ui.focus);
    this.loadMatrix.restore(ui.scroll.load);
    this.balance.restore(ui.scroll.balance);
    this.profile.restore(ui.scroll.profile, ui.profile);
  }

  private get hasProfileTab(): boolean {
    return this.profilePanel.parentElement === this.tabs;
  }

  /** Adds or removes the Profile tab (always the last one). */
  private showProfileTab(show: boolean): void {
    if (show === this.hasProfileTab) return;
    if (show) {
      this.tabs.append(this.profileHeader, this.profilePanel);
      if (this.wantedTab === 'profile') this.selectTab(PROFILE_INDEX);
      this.wantedTab = undefined;
    } else {
      if (this.tabs.selectedIndex === PROFILE_INDEX) this.selectTab(0);
      this.profileHeader.remove();
      this.profilePanel.remove();
    }
  }

  private selectTab(index: number): void {
    if (this.tabs.selectedIndex === index) return;
    this.tabs.selectedIndex = index;
    this.saveSoon();
  }

  setState(state: ExplorerState): void {
    const previousUri = this.state?.document?.uri ?? this.ui?.uri;
    this.state = state;
    this.header.update(state);
    const { model, document: doc } = state;
    this.legend.hidden = !model;
    if (model) this.legend.update({ mode: state.colourMode, numExperts: model.numExperts, layer: state.selectedLayer, selectedExpert: state.selectedExpert });
    const profile = model ? (state.profile ?? undefined) : undefined;
    this.tabs.hidden = !model || (!doc && !profile);
    this.showProfileTab(profile !== undefined);
    if (profile) {
      this.profile.update({ profile, selectedLayer: state.selectedLayer, selectedExpert: state.selectedExpert });
      // A profile the user has not seen in this view yet: bring its tab forward.
      if (profile.path !== this.seenProfile) {
        this.seenProfile = profile.path;
        this.selectTab(PROFILE_INDEX);
      }
    }
    for (const note of this.noDoc) note.hidden = !!doc;
    for (const panel of [this.heatmap, this.loadMatrix, this.balance]) panel.hidden = !doc;
    if (!model || !doc) return;
    if (previousUri !== undefined && previousUri !== doc.uri) this.resetPositions();
    const layerBalance = doc.balance.find((b) => b.layer === state.selectedLayer);
    this.heatmap.update({ tokens: doc.tokens, known: doc.known, routing: doc.routing, load: layerBalance?.load, numExperts: model.numExperts, layer: state.selectedLayer, selectedExpert: state.selectedExpert, origins: model.origins });
    this.loadMatrix.update({ balance: doc.balance, numExperts: model.numExperts, topK: model.topK, selectedLayer: state.selectedLayer });
    this.balance.update({ balance: doc.balance, selectedLayer: state.selectedLayer });
    const step = revealStep(this.revealed, state.revealedToken);
    if (step.scroll && step.highlight !== undefined) {
      this.tabs.selectedIndex = PANELS.indexOf('tokens');
      this.heatmap.revealToken(step.highlight);
    } else this.heatmap.highlightToken(step.highlight);
    if (step.highlight !== this.revealed) {
      this.revealed = step.highlight;
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
    const tab = this.wantedTab ?? PANELS[this.tabs.selectedIndex] ?? 'tokens';
    this.ui = {
      tab,
      scroll: { tokens: this.heatmap.scrollPosition, load: this.loadMatrix.scrollPosition, balance: this.balance.scrollPosition, profile: this.profile.scrollPosition },
      focus: this.heatmap.focusedCell,
      uri: this.state?.document?.uri ?? this.ui?.uri,
      revealed: this.revealed,
      profile: { ...DEFAULT_PROFILE_UI, ...this.profile.settings, seen: this.seenProfile },
    };
    this.host.saveUi(this.ui);
  }
}

define('moe-explorer-app', ExplorerApp);
