// Entry of the Expert Explorer webview (bundled to dist/webview/explorer.js). Data comes only from the
// host; the webview persists nothing but UI state.
import type { ExplorerToHost } from '../src/protocol/explorerProtocol';
import { ExplorerApp } from './components/explorerApp';
import { EMPTY_PERCENT } from './explorer/cellColours';
import { sheet } from './explorer/dom';
import { assertNever } from './explorer/assertNever';
import { parseHostMessage } from './explorer/hostMessages';
import { parseUiState, type ExplorerUiState } from './explorer/uiState';

interface VsCodeApi {
  postMessage(msg: ExplorerToHost): void;
  getState(): unknown;
  setState(state: ExplorerUiState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

// Theme-derived tokens shared by every component (custom properties inherit into shadow roots).
document.adoptedStyleSheets = [
  ...document.adoptedStyleSheets,
  sheet(`
    :root {
      --moe-bg: var(--vscode-sideBar-background, var(--vscode-editor-background));
      --moe-border: var(--vscode-sideBarSectionHeader-border, var(--vscode-widget-border, var(--vscode-panel-border, transparent)));
      --moe-empty: color-mix(in srgb, var(--vscode-foreground) ${EMPTY_PERCENT}%, transparent);
      --moe-selected: color-mix(in srgb, var(--vscode-charts-orange) 14%, transparent);
    }
  `),
];

const vscode = acquireVsCodeApi();
const app = document.querySelector('moe-explorer-app') ?? document.body.appendChild(new ExplorerApp());
if (!(app instanceof ExplorerApp)) throw new Error('moe-explorer-app is not the explorer app');
app.connect({ post: (msg) => vscode.postMessage(msg), saveUi: (state) => vscode.setState(state) }, parseUiState(vscode.getState()));

window.addEventListener('message', (ev: MessageEvent<unknown>) => {
  const msg = parseHostMessage(ev.data);
  if (!msg) return;
  switch (msg.type) {
    case 'state':
      app.setState(msg.state);
      return;
    default:
      assertNever(msg.type, 'message type');
  }
});

vscode.postMessage({ type: 'ready' });
