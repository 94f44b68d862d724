// The preview panel of an upcycling: upcyclePreviewHtml in a DecisionPanel ("Write Checkpoint…" or "Cancel").
import { Panels } from '../../features/ids';
import type { UpcyclePreview } from '../../protocol/engineProtocol';
import { DecisionPanel } from '../planPreview/decisionPanel';
import { upcyclePreviewHtml } from './upcyclePreviewHtml';

export class UpcyclePreviewPanel extends DecisionPanel {
  constructor(preview: UpcyclePreview) {
    super(Panels.upcyclePreview, `Upcycle preview: ${preview.source.name}`, (cspSource) => upcyclePreviewHtml(preview, { cspSource }));
  }
}
