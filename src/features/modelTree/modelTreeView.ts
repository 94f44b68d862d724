// The Model view: the tree of layers and experts, titled with the model's name ("demo-model (untrained)")
// and, above the tree, what the user should know about the model (untrained weights, renumbered experts).
import * as vscode from 'vscode';
import { modelDisplayName, modelNotes } from '../model/modelLabels';
import type { ModelManager } from '../model/modelManager';
import type { ModelTreeNode, ModelTreeProvider } from './modelTreeProvider';

export function createModelTreeView(viewId: string, provider: ModelTreeProvider, models: ModelManager): vscode.Disposable {
  const view: vscode.TreeView<ModelTreeNode> = vscode.window.createTreeView(viewId, { treeDataProvider: provider });
  const render = (): void => {
    const info = models.info;
    view.description = info ? modelDisplayName(info) : undefined;
    const notes = info ? modelNotes(info) : [];
    view.message = notes.length > 0 ? notes.join(' ') : undefined;
  };
  const subscription = models.onDidChange(render);
  render();
  return {
    dispose: () => {
      subscription.dispose();
      view.dispose();
    },
  };
}
