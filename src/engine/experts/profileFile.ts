// Profiles on disk: versioned JSON written atomically, read back defensively (the whole schema, see
// profileSchema.ts), and matched against the model they are applied to.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExpertProfile, LayerProfile, ModelIdentity } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { writeAll, writeFileAtomic } from '../atomicFile';
import { ShapeError } from '../../protocol/jsonShape';
import { readJsonFile } from '../model/jsonFile';
import { parseProfile } from './profileSchema';

/** Writes to the first of `candidates` that can be written (the model folder may be read-only). */
export async function writeProfileSomewhere(candidates: readonly string[], profile: ExpertProfile): Promise<string> {
  let last: unknown;
  for (const file of candidates) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.accessSync(path.dirname(file), fs.constants.W_OK);
      await writeProfile(file, profile);
      return file;
    } catch (e) {
      last = e;
    }
  }
  throw last instanceof MoeError ? last : new MoeError('E_IO', `could not write the profile to ${candidates.join(' or ')}: ${(last as Error).message}`, candidates[0]);
}

export async function writeProfile(file: string, profile: ExpertProfile): Promise<void> {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (e) {
    throw new MoeError('E_IO', `cannot create the folder for the profile ${file}: ${(e as Error).message} (choose another location)`, file);
  }
  // JSON.stringify writes NaN and ±Infinity as null, which is what readProfile accepts for a statistic.
  const bytes = Buffer.from(JSON.stringify(profile));
  await writeFileAtomic(file, (fd) => writeAll(fd, bytes));
}

/** Reads a profile, checking its whole schema (profileSchema.ts); the error names the file and the JSON path. */
export function readProfile(file: string): ExpertProfile {
  const v = readJsonFile(file, 'E_INPUT', 1024 * 1024 * 1024);
  try {
    return parseProfile(v);
  } catch (e) {
    if (e instanceof ShapeError) throw new MoeError('E_INPUT', `${file}: ${e.message}`, file);
    throw e;
  }
}

/** Refuses a profile computed on another model (or another version of it). */
export function checkProfileModel(profile: ExpertProfile, model: ModelIdentity, file: string): void {
  if (profile.model.sha256 !== model.sha256) {
    throw new MoeError(
      'E_INPUT',
      `${file} was computed on ${profile.model.name} (${profile.model.dir}, identity ${profile.model.sha256.slice(0, 12)}), not on the loaded model ${model.name} (${model.dir}, identity ${model.sha256.slice(0, 12)}): profile this model first`,
      file,
    );
  }
}

/** The layer profiles by decoder layer index. */
export function profileLayers(profile: ExpertProfile): Map<number, LayerProfile> {
  return new Map(profile.layers.map((l) => [l.layer, l]));
}

/** The profile at `file` if it exists, reads cleanly and was made from this model and data; else undefined. */
export function reusableProfile(file: string, modelSha256: string, dataSha256: string, maxTokens: number | undefined): ExpertProfile | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const p = readProfile(file);
    const sameLimit = maxTokens === undefined ? !p.data.truncated : p.data.truncated ? p.data.tokens === maxTokens : p.data.tokens <= maxTokens;
    return p.model.sha256 === modelSha256 && p.data.sha256 === dataSha256 && sameLimit ? p : undefined;
  } catch {
    return undefined; // unreadable or from another version: profile again
  }
}
