// A Hugging Face checkpoint folder opened for reading: its resolved config, its safetensors files (one or
// sharded through model.safetensors.index.json) and a validated map from tensor name to where it lives.
// Nothing but headers is read here; weights are read on demand.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { checkConfigAgainstWeights } from './configBounds';
import { isRecord, readJsonFile } from './jsonFile';
import type { ModelConfig } from './modelConfig';
import { loadModelConfig } from './parseConfig';
import { openSafetensors, type SafetensorsFile, type TensorEntry } from './safetensors';
import { expectedTensors } from './tensorSpec';

const WEIGHT_DTYPES = new Set(['F32', 'F16', 'BF16']);

export interface TensorLocation {
  readonly file: SafetensorsFile;
  readonly entry: TensorEntry;
}

export interface Checkpoint {
  readonly dir: string;
  readonly config: ModelConfig;
  readonly tensors: ReadonlyMap<string, TensorLocation>;
  readonly files: readonly SafetensorsFile[];
  /** Reads a tensor as float32 (converting F16/BF16), into `out` at `outOffset` when given. */
  readF32(name: string, out?: Float32Array, outOffset?: number): Float32Array;
  close(): void;
}

/** Opens a checkpoint folder and checks that its tensors are the ones its config implies. */
export function openCheckpoint(dir: string): Checkpoint {
  const abs = path.resolve(dir);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch {
    st = undefined;
  }
  if (!st?.isDirectory()) throw new MoeError('E_MODEL_DIR', `model folder not found: ${abs}`, abs);
  if (!fs.existsSync(path.join(abs, 'config.json'))) {
    throw new MoeError('E_CONFIG', `config.json not found in ${abs}: a model folder is a Hugging Face checkpoint (config.json, *.safetensors, tokenizer.json)`, path.join(abs, 'config.json'));
  }
  const config = loadModelConfig(abs);
  const files = openWeightFiles(abs);
  try {
    const tensors = new Map<string, TensorLocation>();
    for (const file of files.list) {
      for (const entry of file.tensors.values()) {
        const owner = files.owner.get(entry.name);
        // With an index, a tensor counts where the index says it is (a stray copy elsewhere is ignored).
        if (owner !== undefined && owner !== file) continue;
        const prev = tensors.get(entry.name);
        if (prev) throw new MoeError('E_SAFETENSORS', `tensor "${entry.name}" is stored twice: in ${prev.file.path} and ${file.path}`, file.path);
        tensors.set(entry.name, { file, entry });
      }
    }
    for (const [name, file] of files.owner) {
      if (!tensors.has(name)) throw new MoeError('E_WEIGHTS', `${files.indexFile}: maps tensor "${name}" to ${path.basename(file.path)}, which does not contain it`, files.indexFile);
    }
    checkConfigAgainstWeights(config, tensors, path.join(abs, 'config.json'));
    validateTensors(config, tensors, abs);
    const list = files.list;
    return {
      dir: abs,
      config,
      tensors,
      files: list,
      readF32(name, out, outOffset) {
        const loc = tensors.get(name);
        if (!loc) throw new MoeError('E_WEIGHTS', `tensor "${name}" is not in the checkpoint ${abs}`, abs);
        return loc.file.readF32(name, out, outOffset);
      },
      close() {
        for (const f of list) f.close();
      },
    };
  } catch (e) {
    for (const f of files.list) f.close();
    throw e;
  }
}

interface WeightFiles {
  readonly list: SafetensorsFile[];
  /** From the index: tensor name -> the file that holds it. Empty without an index. */
  readonly owner: Map<string, SafetensorsFile>;
  readonly indexFile: string;
}

function openWeightFiles(dir: string): WeightFiles {
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(indexFile)) return openSharded(dir, indexFile);
  if (fs.existsSync(single)) return { list: [openSafetensors(single)], owner: new Map(), indexFile };
  const hasBin = fs.readdirSync(dir).some((f) => f.endsWith('.bin') || f.endsWith('.pt'));
  throw new MoeError(
    'E_WEIGHTS',
    `no weights in ${dir}: expected model.safetensors or model.safetensors.index.json with its shards` + (hasBin ? ' (PyTorch .bin files are not read; re-save the model with safe_serialization=True)' : ''),
    single,
  );
}

function openSharded(dir: string, indexFile: string): WeightFiles {
  const raw = readJsonFile(indexFile, 'E_WEIGHTS');
  const map = isRecord(raw) ? raw['weight_map'] : undefined;
  if (!isRecord(map)) throw new MoeError('E_WEIGHTS', `${indexFile}: "weight_map" is missing or not an object`, indexFile);
  const byFile = new Map<string, SafetensorsFile>();
  const owner = new Map<string, SafetensorsFile>();
  try {
    for (const [name, shard] of Object.entries(map)) {
      if (typeof shard !== 'string' || shard === '' || shard !== path.basename(shard) || shard.startsWith('.')) {
        throw new MoeError('E_WEIGHTS', `${indexFile}: tensor "${name}" maps to ${JSON.stringify(shard)}, which is not a file name in the model folder`, indexFile);
      }
      let file = byFile.get(shard);
      if (!file) {
        const p = path.join(dir, shard);
        if (!fs.existsSync(p)) throw new MoeError('E_WEIGHTS', `${indexFile}: tensor "${name}" is in shard ${shard}, but ${p} does not exist`, indexFile);
        file = openSafetensors(p);
        byFile.set(shard, file);
      }
      owner.set(name, file);
    }
  } catch (e) {
    for (const f of byFile.values()) f.close();
    throw e;
  }
  return { list: [...byFile.values()], owner, indexFile };
}

function validateTensors(config: ModelConfig, tensors: ReadonlyMap<string, TensorLocation>, dir: string): void {
  for (const exp of expectedTensors(config)) {
    const loc = tensors.get(exp.name);
    if (!loc) {
      throw new MoeError('E_WEIGHTS', `tensor "${exp.name}" (shape [${exp.shape.join(', ')}]) is missing from the weights in ${dir}; config.json implies it`, dir);
    }
    const { entry, file } = loc;
    if (entry.shape.length !== exp.shape.length || entry.shape.some((d, i) => d !== exp.shape[i])) {
      throw new MoeError('E_WEIGHTS', `${file.path}: tensor "${exp.name}" has shape [${entry.shape.join(', ')}] but config.json implies [${exp.shape.join(', ')}]`, file.path);
    }
    if (!WEIGHT_DTYPES.has(entry.dtype)) {
      throw new MoeError('E_SAFETENSORS', `${file.path}: tensor "${exp.name}" has dtype ${entry.dtype}, which is not supported (supported: F32, F16, BF16)`, file.path);
    }
  }
}
