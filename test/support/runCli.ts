// Runs the built CLI (dist/cli.js) as a user does: a child process, its exit code and output captured.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliBundle } from './paths';

const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `moe-workbench ...args`; resolves with the exit code instead of rejecting on a non-zero one. */
export function cli(...args: string[]): Promise<CliResult> {
  return runCli(args);
}

/** `moe-workbench ...args` with variables added to the environment. */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliBundle, ...args], { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
