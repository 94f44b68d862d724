// "Duplicate Expert" on an expert of the Model tree (issue #11 §2): copies that expert (weights and router row)
// in its layer as a new expert E. A Hugging Face config holds one expert count for all layers, so every other
// MoE layer gets a copy of its most-used expert (the hot rule, ranked by a profile of the model); the dialogs
// and the notification say so. It asks only copy or noise and the output folder (and a profile when none is
// loaded and there are other layers), writes, and offers to open the result.
import * as vscode from 'vscode';
import { focusOf } from '../operations/expertOperationFlow';
import { duplicateNote, duplicateSettings, growRefusal } from './growInputs';
import { askNewCheckpointFolder } from '../operations/outputFolder';
import { chooseProfile, type GrowDeps, writeGrown } from './growWrite';

const TITLE = 'MoE: Duplicate Expert';

export class DuplicateExpertFlow {
  constructor(private readonly deps: GrowDeps) {}

  async start(arg?: unknown): Promise<void> {
    const info = await this.deps.models.ensureLoaded().catch(() => undefined);
    const refusal = info ? growRefusal(info) : 'no model is loaded. Open a Mixture-of-Experts model ("MoE: Open Model…") first.';
    if (!info || refusal) {
      void vscode.window.showErrorMessage(`MoE Workbench: ${refusal}`);
      return;
    }
    const focus = focusOf(arg, info);
    if (focus?.expert === undefined) {
      void vscode.window.showErrorMessage('MoE Workbench: Duplicate Expert works on an expert: right-click an expert in the Model tree (Layer → Expert).');
      return;
    }
    const { layer, expert } = focus;
    const note = duplicateNote(layer, expert, info.moeLayers);
    const m = await vscode.window.showQuickPick(
      [
        { label: 'Copy', description: 'default', detail: 'An exact copy: it ties with its source, so tokens routed to the source are split between the two', method: 'copy' as const },
        { label: 'Noise', detail: 'A copy with N(0, 0.02²) added to half of its neurons, so the two can drift apart in training', method: 'noise' as const },
      ],
      { title: `${TITLE} ${layer}:${expert} — copy or noise`, placeHolder: note, ignoreFocusOut: true },
    );
    if (!m) return;
    let profileFile: string | undefined;
    if (info.moeLayers.some((L) => L !== layer)) {
      profileFile = this.deps.profiles.current?.file;
      if (!profileFile) {
        const p = await chooseProfile(this.deps, info, `${TITLE} — profile`, 'The other layers copy their most-used experts: a profile of the model ranks them');
        if (!p) return;
        profileFile = p.file;
      }
    }
    const settings = duplicateSettings(layer, expert, m.method, info.moeLayers, profileFile);
    const out = await askNewCheckpointFolder(info, { operation: 'duplicate', layer, expert }, this.deps.extensionPath, `${TITLE} ${layer}:${expert} — output folder`, `A new folder for the checkpoint with ${info.numExperts + 1} experts per layer. ${note}`);
    if (!out) return;
    await writeGrown(this.deps, info, { ...settings, out }, `expert ${layer}:${expert} duplicated as ${layer}:${info.numExperts} (${m.method})`, note);
  }
}
