// Entry of the training panel (bundled to dist/webview/training.js; uPlot's stylesheet, imported here, is
// emitted beside it as dist/webview/training.css). Data comes only from the host, which answers 'ready'
// with the whole state; the webview persists nothing.
import 'uplot/dist/uPlot.min.css';
import type { TrainingToHost } from '../src/protocol/trainingPanelProtocol';
import { TrainingApp } from './components/trainingApp';
import { trainingStyles } from './components/trainingStyles';
import { parseHostMessage } from './training/hostMessages';

interface VsCodeApi {
  postMessage(msg: TrainingToHost): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

document.adoptedStyleSheets = [...document.adoptedStyleSheets, trainingStyles];

const vscode = acquireVsCodeApi();
const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('main'));
root.classList.add('training');
const app = new TrainingApp(root, { post: (msg) => vscode.postMessage(msg) });

window.addEventListener('message', (ev: MessageEvent<unknown>) => {
  const msg = parseHostMessage(ev.data);
  if (msg) app.handle(msg);
});

vscode.postMessage({ type: 'ready' });
