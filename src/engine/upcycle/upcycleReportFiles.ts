// The report files of an upcycling (report.json + report.html, src/report/upcycleReport.ts) for the staged
// checkpoint, with the figures of both folders from their headers: what writeUpcycled's reportFiles hook
// writes for the CLI and for the engine service alike.
import type { UpcycleFigures } from '../../protocol/engineProtocol';
import { parameterCount, upcycleFigures, upcycleReport, upcycleReportHtml, inactivePerToken } from '../../report/upcycleReport';
import { type Checkpoint, openCheckpoint } from '../model/checkpoint';
import { fileBytes } from '../grow/growFigures';
import type { UpcyclePlan } from './upcyclePlan';
import type { UpcycleRecord } from './upcycleRecord';

/** Parameters of the experts a token does not use in the upcycled model. */
export const inactiveOf = (ckpt: Checkpoint, plan: UpcyclePlan): number =>
  inactivePerToken({ experts: plan.options.experts, topK: plan.options.topK, moeLayers: plan.moeLayers.length, hiddenSize: ckpt.config.hiddenSize, expertIntermediate: plan.expertIntermediate });

/** The figures of the written (staged) checkpoint against its source, from both folders' headers. */
export function measuredFigures(srcDir: string, outDir: string, plan: UpcyclePlan): { figures: UpcycleFigures; numLayers: number } {
  const src = openCheckpoint(srcDir);
  try {
    const out = openCheckpoint(outDir);
    try {
      const figures = upcycleFigures(
        { parameters: parameterCount([...src.tensors.values()].map((t) => t.entry)), bytes: fileBytes(src) },
        { parameters: parameterCount([...out.tensors.values()].map((t) => t.entry)), bytes: fileBytes(out) },
        inactiveOf(out, plan),
      );
      return { figures, numLayers: out.config.numLayers };
    } finally {
      out.close();
    }
  } finally {
    src.close();
  }
}

/** report.json and report.html of the upcycling `record` of `srcDir`, staged in `dir`, to appear at `outAbs`. */
export function upcycleReportFiles(srcDir: string, outAbs: string, r: { readonly record: UpcycleRecord; readonly plan: UpcyclePlan; readonly dir: string }): { files: { name: string; bytes: string }[]; figures: UpcycleFigures } {
  const measured = measuredFigures(srcDir, r.dir, r.plan);
  const report = upcycleReport(r.record, outAbs, measured.numLayers, measured.figures);
  return {
    figures: measured.figures,
    files: [
      { name: 'report.json', bytes: JSON.stringify(report, null, 2) + '\n' },
      { name: 'report.html', bytes: upcycleReportHtml(report) },
    ],
  };
}
