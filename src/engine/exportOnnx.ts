// Export of the loaded model as a standalone ONNX model that plain onnxruntime runs: model.onnx (graph,
// input `input_ids` [T] int64; outputs logits, logprobs and router_logits.L / topk_experts.L /
// topk_weights.L per MoE layer) + model.onnx.data (weights as external data, 4 KiB aligned).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Progress } from '../protocol/engineProtocol';
import { MoeError } from '../protocol/moeError';
import { writeAll, writeFileAtomic } from './atomicFile';
import { buildDecoderGraph } from './graph/decoderGraph';
import type { MoeEngine } from './moeEngine';
import { DataType, encodeModel, type TensorProto } from './onnx/onnxProto';

const ALIGN = 4096;

export async function exportOnnx(engine: MoeEngine, outDir: string, progress: (p: Progress) => void = () => undefined): Promise<{ files: string[] }> {
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new MoeError('E_IO', `cannot create the output folder ${outDir}: ${(e as Error).message}`, outDir);
  }
  const g = buildDecoderGraph(engine.config, { routing: true, hidden: false, logits: true });
  const dataName = 'model.onnx.data';
  const weights = g.weights;
  const placed = new Map<string, { offset: number; length: number }>();
  await writeFileAtomic(path.join(outDir, dataName), (fd) => {
    let offset = 0;
    weights.forEach((w, i) => {
      const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
      if (pad) writeAll(fd, new Uint8Array(pad));
      offset += pad;
      const data = engine.weights.get(w.name).data;
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      placed.set(w.name, { offset, length: data.byteLength });
      offset += data.byteLength;
      progress({ stage: 'export', done: i + 1, total: weights.length, message: w.name });
    });
  });
  const model = g.build((w): TensorProto => {
    const p = placed.get(w.name)!;
    return {
      name: w.name,
      dims: [...w.dims],
      dataType: DataType.FLOAT,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(p.offset) },
        { key: 'length', value: String(p.length) },
      ],
    };
  }, { source: engine.info.path, model_type: engine.config.modelType, moe_layers: engine.info.moeLayers.join(',') });
  const bytes = encodeModel(model);
  await writeFileAtomic(path.join(outDir, 'model.onnx'), (fd) => writeAll(fd, bytes));
  return { files: [path.join(outDir, 'model.onnx'), path.join(outDir, dataName)] };
}
