// Where tests find the shared reference fixtures and the built bundles.
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
/** `../shared/fixtures/hf-moe` beside the clone (override with MOE_FIXTURES). */
export const fixturesDir = process.env['MOE_FIXTURES'] ?? path.resolve(repoRoot, '..', 'shared', 'fixtures', 'hf-moe');
export const fixtureNames = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'llama', 'qwen3'] as const;
export const fixture = (name: string): string => path.join(fixturesDir, name);
/** The fixtures with MoE layers (llama and qwen3 are dense): tests of routing are declared for these only. */
export const moeFixtureNames: readonly string[] = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe'];
export const workerBundle = path.join(repoRoot, 'dist', 'engineWorker.js');
export const cliBundle = path.join(repoRoot, 'dist', 'cli.js');
