// Annotating documents on demand.
import * as vscode from 'vscode';
import type { AnnotationController } from '../annotation/annotationController';
import { Commands } from '../ids';
import type { Command } from './command';

function activeEditor(): vscode.TextEditor | undefined {
  const ed = vscode.window.activeTextEditor;
  if (!ed) void vscode.window.showInformationMessage('MoE Workbench: open a text editor first.');
  return ed;
}

export class AnnotateEditorCommand implements Command {
  readonly id = Commands.annotateEditor;
  constructor(private readonly annotations: AnnotationController) {}
  execute(): void {
    const ed = activeEditor();
    if (ed) this.annotations.annotate(ed.document);
  }
}

export class AnnotateSelectionCommand implements Command {
  readonly id = Commands.annotateSelection;
  constructor(private readonly annotations: AnnotationController) {}
  execute(): void {
    const ed = activeEditor();
    if (!ed) return;
    if (ed.selection.isEmpty) {
      void vscode.window.showInformationMessage('MoE Workbench: select the text to annotate first.');
      return;
    }
    this.annotations.annotate(ed.document, ed.selection);
  }
}

export class ToggleAnnotationsCommand implements Command {
  readonly id = Commands.toggleAnnotations;
  constructor(private readonly annotations: AnnotationController) {}
  execute(): void {
    const ed = activeEditor();
    if (ed) this.annotations.toggle(ed.document);
  }
}
