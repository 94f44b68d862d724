// The preview panel of Add Experts…: addExpertsPreviewHtml in a DecisionPanel ("Write Checkpoint…" or "Cancel").
import { Panels } from '../../features/ids';
import type { AddExpertsPreview } from '../../protocol/growProtocol';
import { DecisionPanel } from '../planPreview/decisionPanel';
import { addExpertsPreviewHtml } from './addExpertsPreviewHtml';

export class AddExpertsPreviewPanel extends DecisionPanel {
  constructor(preview: AddExpertsPreview) {
    super(Panels.addExpertsPreview, `Add experts preview: ${preview.source.name}`, (cspSource) => addExpertsPreviewHtml(preview, { cspSource }));
  }
}
