// The Expert Explorer's HTML: a strict CSP (scripts only by nonce, no inline handlers, nothing remote) and
// the bundled app as an ES module. Types only from vscode, so this is unit-testable in plain Node.
import { makeNonce } from '../nonce';

/** The part of vscode.Webview the HTML needs; `U` is vscode.Uri in production. */
export interface WebviewLike<U> {
  readonly cspSource: string;
  asWebviewUri(uri: U): { toString(): string };
}

export function escapeAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function explorerCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    // Not covered by default-src: without these an injected <form> or <base> would still work.
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** `script` is dist/webview/explorer.js inside the extension (a local resource root of the view). */
export function explorerHtml<U>(webview: WebviewLike<U>, script: U, nonce: string = makeNonce()): string {
  const src = escapeAttr(webview.asWebviewUri(script).toString());
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(explorerCsp(webview.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Expert Explorer</title>
<style nonce="${nonce}">
  html, body { height: 100%; margin: 0; padding: 0; overflow: hidden; }
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); }
  moe-explorer-app { display: flex; flex-direction: column; height: 100%; }
</style>
</head>
<body>
<moe-explorer-app></moe-explorer-app>
<script type="module" nonce="${nonce}" src="${src}"></script>
</body>
</html>
`;
}
