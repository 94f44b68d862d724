// What the Expert Explorer view needs from the rest of the extension: the current state, a change
// signal, and someone to act on the webview's requests.
import type * as vscode from 'vscode';
import type { ExplorerState, ExplorerToHost } from '../../protocol/explorerProtocol';

export interface ExplorerStateSource {
  /** The full state to show now (posted on 'ready', on changes and when the view is shown again). */
  current(): ExplorerState;
  readonly onDidChange: vscode.Event<void>;
  /** A validated message from the webview. */
  handle(msg: ExplorerToHost): void;
}
