// Issue #8 §1 and §3: the engine runs in its own process, and annotation must not wait behind long jobs.
// Measured through the real EngineClient and engine process, with as many ONNX Runtime threads as the
// in-process figures above (the extension itself leaves one core to the extension host).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngineClient } from '../src/host/engineClient';
import type { Capture } from '../src/protocol/engineProtocol';

const ROUTING: Capture = { routing: true, hidden: false, logits: false };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** Rows for the bench table; `inProcessMs` is the in-process prefill of the same `ids` with routing captured. */
export async function responsivenessRows(modelDir: string, ids: number[], inProcessMs: number): Promise<[string, string][]> {
  const root = path.join(__dirname, '..');
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  const client = new EngineClient({ workerPath: path.join(root, 'dist', 'engineWorker.js'), workerData: { threads: os.availableParallelism() } });
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-bench-resp-'));
  try {
    const tl = performance.now();
    await client.request('load', { modelDir });
    const loadMs = performance.now() - tl;
    const send = (input: number[], priority?: 'background'): Promise<unknown> => client.request('forward', { input: { ids: input }, capture: ROUTING }, priority ? { priority } : {});
    // A document of ~900 tokens, as in the measurements.
    const docIds = Array.from({ length: 900 }, (_, i) => ids[i % ids.length]!);
    const forward = (n: number, priority?: 'background'): Promise<unknown> => send(n === ids.length ? ids : docIds, priority);
    await forward(ids.length);
    const viaClient: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await forward(ids.length);
      viaClient.push(performance.now() - t0);
    }
    const roundTrip = median(viaClient);

    // An annotation of ~900 tokens sent while a profile runs (chunks of 512 tokens).
    fs.writeFileSync(path.join(data, 'calibration.txt'), fs.readFileSync(path.join(root, 'README.md'), 'utf8').repeat(8));
    const doc = docIds.length;
    const during: number[] = [];
    let chunkMs = 0;
    for (let i = 0; i < 5; i++) {
      let sent: Promise<number> | undefined;
      let lastTick = 0;
      const chunkTimes: number[] = [];
      await client.request('profile', { data: [data], chunkTokens: 512, maxTokens: 512 * 12, out: path.join(data, `p${i}.json`) }, {
        onProgress: (p) => {
          if (p.stage !== 'profile') return;
          const now = performance.now();
          if (lastTick > 0) chunkTimes.push(now - lastTick);
          lastTick = now;
          if (sent === undefined && p.done >= 512 * 2) {
            const t0 = performance.now();
            sent = forward(doc).then(() => performance.now() - t0);
          }
        },
      });
      during.push(await sent!);
      chunkMs = median(chunkTimes);
    }

    // Fifty annotations at once (other documents, background), then the visible one (interactive).
    const t50 = performance.now();
    const background = Array.from({ length: 49 }, () => forward(doc, 'background').then(() => performance.now() - t50));
    const tv = performance.now();
    const visible = await forward(doc).then(() => performance.now() - tv);
    const all = await Promise.all(background);
    return [
      ['engine process: load', `${(loadMs / 1000).toFixed(2)} s`],
      [`engine process: prefill ${ids.length} tokens with routing, round trip`, `${roundTrip.toFixed(0)} ms vs ${inProcessMs.toFixed(0)} ms in-process (${(((roundTrip - inProcessMs) / inProcessMs) * 100).toFixed(1)}% for the process boundary)`],
      [`annotation of ${doc} tokens sent during a profile`, `answered after ${median(during).toFixed(0)} ms median (max ${Math.max(...during).toFixed(0)} ms; one profile chunk takes ${chunkMs.toFixed(0)} ms)`],
      [`visible annotation behind 49 background ones (${doc} tokens each)`, `${visible.toFixed(0)} ms; the background ones p50 ${pct(all, 0.5).toFixed(0)} ms, last ${Math.max(...all).toFixed(0)} ms`],
    ];
  } finally {
    await client.dispose();
    fs.rmSync(data, { recursive: true, force: true });
  }
}
