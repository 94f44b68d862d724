// The gradients file writer: names, shapes and scalars as the CLI promises them, fused tensors' frozen
// experts zero, refusals before anything is written, and no staging folder left either way.
// Run: node --import tsx --test test/unit/gradientsFile.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { loadModelConfig } from '../../src/engine/model/parseConfig';
import { writeSafetensors } from '../../src/engine/model/safetensorsWriter';
import { checkGradientsOut, type GradientTensor, gradientFileTensors, streamGradientsFile, writeGradientsFile } from '../../src/engine/training/gradientsFile';
import { resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import { fixture } from '../support/paths';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-gradfile-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => fs.mkdtempSync(path.join(tmp, `d${n++}-`));

/** Every gradient value distinct and non-zero, so a misplaced or zeroed slice shows. */
function gradsFor(shapes: { name: string; shape: readonly number[] }[]): Map<string, GradientTensor> {
  let v = 1;
  return new Map(shapes.map((t) => [t.name, { dims: t.shape, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => v++ / 1000) }]));
}

describe('writeGradientsFile', () => {
  test('Mixtral, two experts and the routers: those tensors, F32, HF shapes, and the two scalars', async () => {
    const c = loadModelConfig(fixture('mixtral'));
    const set = resolveTrainSpecs(['experts=0:1,1:5', 'routers'], c);
    const expected = gradientFileTensors(c, set);
    const grads = gradsFor(expected);
    const dir = freshDir();
    const out = path.join(dir, 'g.safetensors');
    const names = await writeGradientsFile(out, c, set, { loss: 2.5, auxLoss: 1.25, grads }, { note: 'x' });
    assert.deepEqual(names, expected.map((t) => t.name));
    assert.equal(names.length, 2 * 3 + 2);
    const f = openSafetensors(out);
    try {
      assert.deepEqual([...f.tensors.keys()].sort(), [...names, 'aux_loss', 'loss'].sort());
      for (const t of expected) {
        assert.equal(f.tensors.get(t.name)!.dtype, 'F32');
        assert.deepEqual(f.tensors.get(t.name)!.shape, t.shape);
        assert.deepEqual(f.readF32(t.name), grads.get(t.name)!.data);
      }
      assert.deepEqual(f.tensors.get('loss')!.shape, []);
      assert.equal(f.readF32('loss')[0], 2.5);
      assert.equal(f.readF32('aux_loss')[0], 1.25);
      assert.equal(f.metadata['format'], 'pt');
      assert.equal(f.metadata['note'], 'x');
    } finally {
      f.close();
    }
    assert.deepEqual(fs.readdirSync(dir), ['g.safetensors'], 'no staging folder left');
  });

  test('GraniteMoE fused tensors: written whole, the frozen experts zero, the caller’s arrays untouched', async () => {
    const c = loadModelConfig(fixture('granitemoe'));
    const set = resolveTrainSpecs(['experts=1:2,1:4'], c);
    const expected = gradientFileTensors(c, set);
    assert.deepEqual(expected.map((t) => t.name), ['model.layers.1.block_sparse_moe.input_linear.weight', 'model.layers.1.block_sparse_moe.output_linear.weight']);
    const grads = gradsFor(expected);
    const before = new Map([...grads].map(([k, g]) => [k, g.data.slice()]));
    const out = path.join(freshDir(), 'g.safetensors');
    await writeGradientsFile(out, c, set, { loss: 1, auxLoss: 0, grads }, {});
    const f = openSafetensors(out);
    try {
      for (const t of expected) {
        const got = f.readF32(t.name);
        const per = got.length / 6;
        for (let e = 0; e < 6; e++) {
          const slice = got.subarray(e * per, (e + 1) * per);
          const given = grads.get(t.name)!.data.subarray(e * per, (e + 1) * per);
          if (e === 2 || e === 4) assert.deepEqual(slice, given, `${t.name} expert ${e} kept`);
          else assert.ok(slice.every((x) => x === 0), `${t.name} expert ${e} zero`);
        }
        assert.deepEqual(grads.get(t.name)!.data, before.get(t.name));
      }
    } finally {
      f.close();
    }
  });

  test('a gradient of the wrong shape or a missing one: E_INTERNAL, nothing written, an existing file untouched', async () => {
    const c = loadModelConfig(fixture('olmoe'));
    const set = resolveTrainSpecs(['routers'], c);
    const grads = gradsFor(gradientFileTensors(c, set));
    const dir = freshDir();
    const out = path.join(dir, 'g.safetensors');
    fs.writeFileSync(out, 'old');
    const router0 = 'model.layers.0.mlp.gate.weight';
    const bad = new Map(grads).set(router0, { dims: [1, 8 * 64], data: grads.get(router0)!.data });
    await assert.rejects(writeGradientsFile(out, c, set, { loss: 1, auxLoss: 0, grads: bad }, {}), (e: { code: string; message: string }) => e.code === 'E_INTERNAL' && /model\.layers\.0\.mlp\.gate\.weight has shape \[1, 512\], the tensor \[8, \d+\]/.test(e.message));
    const missing = new Map(grads);
    missing.delete(router0);
    await assert.rejects(writeGradientsFile(out, c, set, { loss: 1, auxLoss: 0, grads: missing }, {}), /no gradient for model\.layers\.0\.mlp\.gate\.weight/);
    assert.deepEqual(fs.readdirSync(dir), ['g.safetensors']);
    assert.equal(fs.readFileSync(out, 'utf8'), 'old');
    // A good write replaces it.
    await writeGradientsFile(out, c, set, { loss: 1, auxLoss: 0, grads }, {});
    assert.deepEqual(fs.readdirSync(dir), ['g.safetensors']);
    assert.notEqual(fs.readFileSync(out, 'utf8'), 'old');
  });
});

describe('the streamed layout', () => {
  test('byte for byte what writeSafetensors writes for the same tensors (Mixtral; GraniteMoE with its frozen slices zeroed)', async () => {
    for (const [name, train] of [['mixtral', ['experts=0:1,1:5', 'routers']], ['granitemoe', ['experts=1:2,1:4', 'routers']]] as const) {
      const c = loadModelConfig(fixture(name));
      const set = resolveTrainSpecs([...train], c);
      const expected = gradientFileTensors(c, set);
      const grads = gradsFor(expected);
      const dir = freshDir();
      const metadata = { moe_workbench: JSON.stringify({ model: name, lmLoss: 2.0625 }) };
      const ours = path.join(dir, 'ours.safetensors');
      // Delivered in reverse file order, as the backward does (top layer first).
      await streamGradientsFile(ours, c, set, metadata, async (write) => {
        for (const t of [...expected].reverse()) await write(t.name, grads.get(t.name)!);
        return { loss: 3.5, auxLoss: 0.75, metadata };
      });
      const fused = /input_linear|output_linear/;
      const zeroed = (t: { name: string; shape: readonly number[] }): Float32Array => {
        const d = grads.get(t.name)!.data.slice();
        if (!fused.test(t.name)) return d;
        const per = d.length / t.shape[0]!;
        for (let e = 0; e < t.shape[0]!; e++) if (e !== 2 && e !== 4) d.fill(0, e * per, (e + 1) * per);
        return d;
      };
      const reference = path.join(dir, 'reference.safetensors');
      const tensors = expected.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: zeroed(t) }));
      tensors.push({ name: 'loss', dtype: 'F32', shape: [], data: Float32Array.of(3.5) }, { name: 'aux_loss', dtype: 'F32', shape: [], data: Float32Array.of(0.75) });
      await writeSafetensors(reference, tensors, { format: 'pt', ...metadata });
      assert.ok(fs.readFileSync(ours).equals(fs.readFileSync(reference)), `${name}: same bytes`);
    }
  });

  test('a gradient not in the file, or delivered twice: E_INTERNAL, nothing left', async () => {
    const c = loadModelConfig(fixture('olmoe'));
    const set = resolveTrainSpecs(['experts=0:1'], c);
    const expected = gradientFileTensors(c, set);
    const grads = gradsFor(expected);
    const dir = freshDir();
    const out = path.join(dir, 'g.safetensors');
    const first = expected[0]!;
    const cases: [(write: (n: string, g: GradientTensor) => Promise<void>) => Promise<void>, RegExp][] = [
      [(write) => write('model.layers.0.mlp.gate.weight', grads.get(first.name)!), /gate\.weight, which is not trainable/],
      [async (write) => {
        await write(first.name, grads.get(first.name)!);
        await write(first.name, grads.get(first.name)!);
      }, /returned .* twice/],
    ];
    for (const [deliver, re] of cases) {
      await assert.rejects(streamGradientsFile(out, c, set, {}, async (write) => {
        await deliver(write);
        return { loss: 0, auxLoss: 0, metadata: {} };
      }), (e: { code: string; message: string }) => e.code === 'E_INTERNAL' && re.test(e.message));
      assert.deepEqual(fs.readdirSync(dir), []);
    }
    // A final metadata longer than the bound the header was sized for.
    await assert.rejects(streamGradientsFile(out, c, set, { m: 'short' }, async (write) => {
      for (const t of expected) await write(t.name, grads.get(t.name)!);
      return { loss: 0, auxLoss: 0, metadata: { m: 'much longer than the bound' } };
    }), /header grew to \d+ bytes; \d+ were reserved/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('checkGradientsOut', () => {
  test('a folder, a missing folder, a path through a file: E_IO naming the path', () => {
    const dir = freshDir();
    const file = path.join(dir, 'f.safetensors');
    fs.writeFileSync(file, '');
    const cases: [string, RegExp][] = [
      [dir, /is a folder; --out names the \.safetensors file to write/],
      [path.join(dir, 'nope', 'g.safetensors'), /the folder .*nope does not exist/],
      [path.join(file, 'g.safetensors'), /cannot write .*f\.safetensors\/g\.safetensors: the folder .*f\.safetensors/],
    ];
    for (const [p, re] of cases) {
      assert.throws(
        () => checkGradientsOut(p),
        (e: { code: string; message: string; file?: string }) => e.code === 'E_IO' && re.test(e.message) && e.file === path.resolve(p),
        p,
      );
    }
    checkGradientsOut(file); // an existing file is replaced
    checkGradientsOut(path.join(dir, 'new.safetensors'));
  });

  test('a read-only folder', { skip: process.getuid?.() === 0 ? 'root may write anywhere' : false }, () => {
    const dir = freshDir();
    fs.chmodSync(dir, 0o555);
    try {
      assert.throws(() => checkGradientsOut(path.join(dir, 'g.safetensors')), /is not writable/);
    } finally {
      fs.chmodSync(dir, 0o755);
    }
  });
});
