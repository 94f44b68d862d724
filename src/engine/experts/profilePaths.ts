// Where a profile is written, named by what it was computed from: the model's identity (its folder), the
// calibration data's content hash, the chunk length and the token limit. Never by the paths the user
// picked, so a new run on changed data gets a new file instead of overwriting one a checkpoint cites.
import * as os from 'node:os';
import * as path from 'node:path';

export interface ProfileIdentity {
  readonly modelDir: string;
  readonly modelSha256: string;
  /** CalibrationSet.sha256: over the files' paths and bytes. */
  readonly dataSha256: string;
  /** The chunk length actually used (at most the model's context). */
  readonly chunkTokens: number;
  readonly maxTokens?: number | undefined;
}

/** `profile-<data hash>-c<chunk>[-max<limit>].json`. */
export function profileFileName(id: Pick<ProfileIdentity, 'dataSha256' | 'chunkTokens' | 'maxTokens'>): string {
  return `profile-${id.dataSha256.slice(0, 12)}-c${id.chunkTokens}${id.maxTokens !== undefined ? `-max${id.maxTokens}` : ''}.json`;
}

/** A folder per model (name and identity) inside a shared profiles folder. */
function modelFolder(id: ProfileIdentity): string {
  return `${path.basename(id.modelDir)}-${id.modelSha256.slice(0, 12)}`;
}

/**
 * The files to try, in order: `out` when given; else in `outDir` (a folder shared by models, e.g. the
 * extension's storage), under the model's own subfolder; else next to the model, or, when the model folder
 * is read-only, in the user's cache.
 */
export function profilePaths(id: ProfileIdentity, where: { readonly out?: string | undefined; readonly outDir?: string | undefined } = {}): string[] {
  if (where.out !== undefined) return [where.out];
  const name = profileFileName(id);
  if (where.outDir !== undefined) return [path.join(where.outDir, modelFolder(id), name)];
  const cache = process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache');
  return [path.join(id.modelDir, 'moe-workbench-profiles', name), path.join(cache, 'moe-workbench', 'profiles', modelFolder(id), name)];
}
