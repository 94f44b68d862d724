// The PyTorch reference of the training benchmarks (scripts/benchTraining.ts, scripts/benchFinetune.ts):
// scripts/bench/torchTrainStep.py as a child process that stays up (one JSON line per request and answer),
// so that its runs interleave with ours and the weights load once. PyTorch is never a dependency: without
// python3 + torch the caller gets undefined and a line saying why.
import { execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export const PYTHON = '/usr/bin/python3';

export type TorchAnswer = Record<string, number> & { norms?: Record<string, number>; probes?: Record<string, number[]>; counts?: number[] };
/** Sends a request and resolves with its answer; close() ends the child (its memory is freed at once). */
export type TorchServer = ((req: object) => Promise<TorchAnswer>) & { close(): void };

const mib = (kb: number): string => `${(kb / 1024).toFixed(0)} MiB`;

/** The server, or undefined with the reason printed. */
export async function startTorch(dir: string, threads = 2): Promise<TorchServer | undefined> {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    console.log(`PyTorch skipped: ${PYTHON} cannot import torch (apt-get install -y python3-torch libopenblas0-pthread)`);
    return undefined;
  }
  const child = spawn(PYTHON, [path.join(__dirname, 'torchTrainStep.py'), dir, '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<TorchAnswer> => {
    const r = await lines.next();
    if (r.done) throw new Error('the PyTorch reference exited early');
    return JSON.parse(r.value) as TorchAnswer;
  };
  const hello = await next();
  console.log(`PyTorch ${hello['torch']} (${hello['threads']} threads): weights loaded in ${(hello['load_ms']! / 1000).toFixed(1)} s, RSS ${mib(hello['rss_anon_kb']!)} anon`);
  child.stdin.on('error', () => undefined);
  process.on('exit', () => child.kill());
  const request = async (req: object): Promise<TorchAnswer> => {
    child.stdin.write(JSON.stringify(req) + '\n');
    return next();
  };
  return Object.assign(request, { close: () => void child.kill() });
}
