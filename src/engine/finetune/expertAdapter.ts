// Expert adapters (issue #10 §4): the tensors a fine-tuning changed, and a manifest naming the base model
// they apply to, in a folder of their own (`adapter.safetensors` + `moe_workbench_adapter.json`); applying
// one to its base writes the full checkpoint again. The base is recognised by its model identity (config,
// safetensors headers, routers: modelIdentity.ts) and by the sha256 of every tensor the adapter replaces,
// so an adapter trained on one fine-tune of a model is refused on another with the same architecture.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WrittenCheckpoint } from '../../protocol/expertOps';
import { sourceRecord } from '../surgery/sourceRecord';
import { MoeError } from '../../protocol/moeError';
import { TOOL } from '../experts/operationRecord';
import { modelIdentity } from '../experts/modelIdentity';
import { openCheckpoint } from '../model/checkpoint';
import { isRecord, readJsonFile } from '../model/jsonFile';
import { openSafetensors } from '../model/safetensors';
import { type TensorData, writeSafetensors } from '../model/safetensorsWriter';
import { RECORD_FILE, writeNewFile } from '../surgery/checkpointFiles';
import { createStagingDir, type StagingDir } from '../surgery/stagingDir';
import { planTensorUpdates, type TensorUpdate } from '../surgery/tensorUpdates';
import { cancelledError, writeCheckpoint, type WriteCheckpointOptions, type ExtraFile } from '../surgery/writeCheckpoint';

export const ADAPTER_MANIFEST = 'moe_workbench_adapter.json';
export const ADAPTER_WEIGHTS = 'adapter.safetensors';
const FORMAT = 'moe-workbench.expert-adapter';

export interface AdapterTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** sha256 of the adapter's bytes of it. */
  readonly sha256: string;
  /** sha256 of the base model's bytes it replaces. */
  readonly baseSha256: string;
}

export interface AdapterManifest {
  readonly format: typeof FORMAT;
  readonly version: 1;
  readonly createdAt: string;
  readonly tool: string;
  readonly base: { readonly name: string; readonly modelType: string; readonly sha256: string };
  readonly tensors: readonly AdapterTensor[];
  /** Free-form description of how the tensors were made (the fine-tuning run's record). */
  readonly training?: unknown;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** What a checkpoint written by applyExpertAdapter (or a fine-tuning) records in moe_workbench.json. */
export interface TensorUpdateRecord {
  readonly format: 'moe-workbench.tensor-update';
  readonly version: 1;
  readonly createdAt: string;
  readonly tool: string;
  readonly operation: string;
  readonly source: { readonly dir: string; readonly sha256: string };
  readonly tensors: readonly string[];
  readonly adapter?: { readonly dir: string; readonly manifestSha256: string };
  /** The source's own moe_workbench.json, when it had one (a pruned model stays traceable). */
  readonly previous?: unknown;
}

/**
 * Writes the adapter of `updates` (tensor name → new values, float32 or stored bytes; stored in the base's
 * dtype) for the base checkpoint `baseDir` into `outDir` (must not exist, or be empty; outside the base), with
 * `extraFiles` (e.g. the run's report) beside its own two. One tensor is in memory at a time; the folder appears
 * whole or not at all.
 */
export async function writeExpertAdapter(baseDir: string, updates: ReadonlyMap<string, TensorUpdate>, outDir: string, opts: { readonly training?: unknown; readonly signal?: AbortSignal; readonly extraFiles?: readonly ExtraFile[] } = {}): Promise<AdapterManifest> {
  if (updates.size === 0) throw new MoeError('E_INPUT', 'an adapter needs at least one changed tensor');
  const outAbs = path.resolve(outDir);
  if (opts.signal?.aborted) throw cancelledError(outAbs);
  const identity = modelIdentity(baseDir);
  const ckpt = openCheckpoint(baseDir);
  let staging: StagingDir | undefined;
  try {
    const planned = planTensorUpdates(ckpt, updates).filter((t) => updates.has(t.name));
    staging = await createStagingDir(ckpt.dir, outAbs);
    const tensors: AdapterTensor[] = [];
    await writeSafetensors(
      path.join(staging.temp, ADAPTER_WEIGHTS),
      planned.map((t) => ({
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        data: (): TensorData => {
          if (opts.signal?.aborted) throw cancelledError(outAbs);
          return t.produce();
        },
      })),
      { format: 'pt' },
    );
    // Hashes from the written file: exactly the bytes applyExpertAdapter will copy.
    const written = openSafetensors(path.join(staging.temp, ADAPTER_WEIGHTS));
    try {
      for (const t of planned) {
        tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], sha256: sha256(written.readRaw(t.name)), baseSha256: sha256(ckpt.tensors.get(t.name)!.file.readRaw(t.name)) });
      }
    } finally {
      written.close();
    }
    const manifest: AdapterManifest = {
      format: FORMAT,
      version: 1,
      createdAt: new Date().toISOString(),
      tool: TOOL,
      base: { name: identity.name, modelType: identity.modelType, sha256: identity.sha256 },
      tensors,
      ...(opts.training === undefined ? {} : { training: opts.training }),
    };
    await writeNewFile(path.join(staging.temp, ADAPTER_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    for (const f of opts.extraFiles ?? []) {
      if (f.name === ADAPTER_MANIFEST || f.name === ADAPTER_WEIGHTS || path.basename(f.name) !== f.name) throw new MoeError('E_INTERNAL', `an adapter's extra file must be a plain name other than its own files: ${f.name}`);
      await writeNewFile(path.join(staging.temp, f.name), f.bytes);
    }
    if (opts.signal?.aborted) throw cancelledError(outAbs);
    await staging.commit();
    staging = undefined;
    return manifest;
  } catch (e) {
    if (staging) await staging.discard();
    throw MoeError.from(e);
  } finally {
    ckpt.close();
  }
}

/** Reads and checks an adapter folder's manifest (every field), naming the file and the field at fault. */
export function readAdapterManifest(adapterDir: string): AdapterManifest {
  const file = path.join(path.resolve(adapterDir), ADAPTER_MANIFEST);
  if (!fs.existsSync(file)) throw new MoeError('E_INPUT', `${adapterDir} is not an expert adapter: it has no ${ADAPTER_MANIFEST}`, file);
  const raw = readJsonFile(file, 'E_INPUT', 16 * 1024 * 1024);
  const bad = (why: string): MoeError => new MoeError('E_INPUT', `${file}: ${why}`, file);
  if (!isRecord(raw) || raw['format'] !== FORMAT) throw bad(`not an expert adapter manifest ("format" must be "${FORMAT}")`);
  if (raw['version'] !== 1) throw bad(`version ${JSON.stringify(raw['version'])} is not supported (this tool reads version 1)`);
  const base = raw['base'];
  if (!isRecord(base) || typeof base['sha256'] !== 'string' || typeof base['name'] !== 'string' || typeof base['modelType'] !== 'string') throw bad('"base" must be {"name", "modelType", "sha256"}');
  const list = raw['tensors'];
  if (!Array.isArray(list) || list.length === 0) throw bad('"tensors" must be a non-empty list');
  const hex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
  const tensors = list.map((t: unknown, i: number): AdapterTensor => {
    if (!isRecord(t) || typeof t['name'] !== 'string' || typeof t['dtype'] !== 'string' || !Array.isArray(t['shape']) || !t['shape'].every((d) => Number.isSafeInteger(d) && (d as number) >= 0) || !hex(t['sha256']) || !hex(t['baseSha256'])) {
      throw bad(`tensors[${i}] must be {"name", "dtype", "shape", "sha256", "baseSha256"}`);
    }
    return { name: t['name'], dtype: t['dtype'], shape: t['shape'] as number[], sha256: t['sha256'], baseSha256: t['baseSha256'] };
  });
  return { format: FORMAT, version: 1, createdAt: String(raw['createdAt'] ?? ''), tool: String(raw['tool'] ?? ''), base: { name: base['name'], modelType: base['modelType'], sha256: base['sha256'] }, tensors, ...(raw['training'] === undefined ? {} : { training: raw['training'] }) };
}

/**
 * Writes the full checkpoint of `baseDir` with the adapter's tensors in place into `outDir`; every other
 * tensor and file byte-identical to the base. Refused, before anything is written, on another base (model
 * identity or the replaced tensors' bytes differ), or when the adapter's weights do not match its manifest.
 */
export async function applyExpertAdapter(baseDir: string, adapterDir: string, outDir: string, opts: WriteCheckpointOptions = {}): Promise<{ written: WrittenCheckpoint; record: TensorUpdateRecord }> {
  const manifest = readAdapterManifest(adapterDir);
  const manifestFile = path.join(path.resolve(adapterDir), ADAPTER_MANIFEST);
  const weightsFile = path.join(path.resolve(adapterDir), ADAPTER_WEIGHTS);
  const identity = modelIdentity(baseDir);
  if (identity.sha256 !== manifest.base.sha256) {
    throw new MoeError('E_INPUT', `the adapter ${adapterDir} was made for ${manifest.base.name} (${manifest.base.modelType}, identity ${manifest.base.sha256.slice(0, 12)}), not for ${identity.dir} (identity ${identity.sha256.slice(0, 12)}): apply it to its own base model`, manifestFile);
  }
  const ckpt = openCheckpoint(baseDir);
  const weights = openSafetensors(weightsFile);
  try {
    const updates = new Map<string, TensorUpdate>();
    for (const t of manifest.tensors) {
      const loc = ckpt.tensors.get(t.name);
      if (!loc) throw new MoeError('E_INPUT', `the adapter ${adapterDir} replaces "${t.name}", which ${identity.dir} does not hold`, manifestFile);
      if (sha256(loc.file.readRaw(t.name)) !== t.baseSha256) throw new MoeError('E_INPUT', `the adapter ${adapterDir} was made on a base whose "${t.name}" differs from ${identity.dir}'s: apply it to its own base model`, manifestFile);
      const e = weights.tensors.get(t.name);
      if (!e) throw new MoeError('E_INPUT', `${weightsFile} has no tensor "${t.name}" that ${ADAPTER_MANIFEST} lists`, weightsFile);
      if (e.dtype !== loc.entry.dtype || e.shape.join(',') !== loc.entry.shape.join(',')) throw new MoeError('E_INPUT', `${weightsFile}: "${t.name}" is ${e.dtype} [${e.shape.join(', ')}], the base's ${loc.entry.dtype} [${loc.entry.shape.join(', ')}]`, weightsFile);
      const bytes = weights.readRaw(t.name);
      if (sha256(bytes) !== t.sha256) throw new MoeError('E_INPUT', `${weightsFile}: "${t.name}" does not match its sha256 in ${ADAPTER_MANIFEST} (the file was changed or damaged)`, weightsFile);
      updates.set(t.name, () => weights.readRaw(t.name));
    }
    const extra = weights.tensors.size - manifest.tensors.length;
    if (extra > 0) throw new MoeError('E_INPUT', `${weightsFile} holds ${extra} tensor${extra === 1 ? '' : 's'} that ${ADAPTER_MANIFEST} does not list`, weightsFile);
    const previous = sourceRecord(ckpt.dir);
    const record: TensorUpdateRecord = {
      format: 'moe-workbench.tensor-update',
      version: 1,
      createdAt: new Date().toISOString(),
      tool: TOOL,
      operation: 'apply-adapter',
      source: { dir: ckpt.dir, sha256: identity.sha256 },
      tensors: manifest.tensors.map((t) => t.name),
      adapter: { dir: path.resolve(adapterDir), manifestSha256: sha256(fs.readFileSync(manifestFile)) },
      ...(previous === undefined ? {} : { previous }),
    };
    const written = await writeCheckpoint(ckpt.dir, outDir, {
      tensors: planTensorUpdates(ckpt, updates),
      configText: fs.readFileSync(path.join(ckpt.dir, 'config.json')),
      extraFiles: () => [{ name: RECORD_FILE, bytes: JSON.stringify(record, null, 2) + '\n' }],
    }, opts);
    return { written, record };
  } finally {
    weights.close();
    ckpt.close();
  }
}
