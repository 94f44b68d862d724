// The training panel's HTML: the same strict CSP as the Expert Explorer (scripts only by nonce, styles from
// the extension or by nonce, nothing remote, no forms or <base>), the bundled app as an ES module and its
// stylesheets (uPlot's, emitted by esbuild as dist/webview/training.css). The app renders into the light DOM
// of <main id="app">: uPlot's stylesheet is a document stylesheet and must reach the chart. Types only from
// vscode, so this is unit-testable in plain Node.
import { makeNonce } from '../nonce';
import { escapeAttr, explorerCsp, type WebviewLike } from '../expertExplorer/explorerHtml';

/** The panel's CSP; the explorer's policy, which already allows exactly what the panel loads. */
export function trainingCsp(cspSource: string, nonce: string): string {
  return explorerCsp(cspSource, nonce);
}

/**
 * `script` is dist/webview/training.js and `styles` dist/webview/training.css inside the extension (the
 * panel's local resource root is dist/webview).
 */
export function trainingHtml<U>(webview: WebviewLike<U>, script: U, styles: readonly U[], nonce: string = makeNonce()): string {
  const src = escapeAttr(webview.asWebviewUri(script).toString());
  const links = styles.map((s) => `<link rel="stylesheet" href="${escapeAttr(webview.asWebviewUri(s).toString())}">`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(trainingCsp(webview.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Fine-tune Experts</title>
${links}
<style nonce="${nonce}">
  html, body { margin: 0; padding: 0; }
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); }
</style>
</head>
<body>
<main id="app" class="training" data-phase="loading"><p class="loading">Loading…</p></main>
<script type="module" nonce="${nonce}" src="${src}"></script>
</body>
</html>
`;
}
