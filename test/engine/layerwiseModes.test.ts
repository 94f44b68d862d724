// Every way of holding weights gives the whole-model graph's outputs bitwise on every fixture family:
// resident (all float32), cached with no float32 layers and with layer 0 kept, and streaming (each layer
// read from the files when it runs). BF16/F16 -> float32 is exact and the same ops run, so nothing may
// differ: logprobs, logits, hidden states, router logits, gate weights, expert norms, chosen experts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MoeEngine, type EngineOptions } from '../../src/engine/moeEngine';
import type { Capture } from '../../src/protocol/engineProtocol';
import { fixture, fixtureNames } from '../support/paths';
import { assertSameForward } from './layerwiseCompare';

const MODES: [string, EngineOptions][] = [
  ['cached, no float32 layers', { weightMode: 'cached', f32Layers: new Set() }],
  ['cached, layer 0 float32', { weightMode: 'cached', f32Layers: new Set([0]) }],
  ['streaming', { weightMode: 'streaming', f32Layers: new Set<number>() }],
];
const CAPTURES: [string, Capture][] = [
  ['routing, hidden, logits', { routing: true, hidden: true, logits: true }],
  ['expert norms', { routing: true, hidden: false, logits: false, expertNorms: true }],
];

for (const name of fixtureNames) {
  describe(`weight modes = whole graph: ${name}`, () => {
    const dir = fixture(name);
    const prompts = (JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { prompts: { input_ids: number[] }[] }).prompts.map((p) => p.input_ids);
    let whole: MoeEngine;
    const engines: MoeEngine[] = [];
    before(async () => {
      whole = await MoeEngine.load(dir, { execution: 'whole-graph' });
      for (const [, opts] of MODES) engines.push(await MoeEngine.load(dir, opts));
    });
    after(async () => {
      await whole.dispose();
      for (const e of engines) await e.dispose();
    });
    MODES.forEach(([mode], i) => {
      it(mode, async () => {
        for (const [p, ids] of prompts.entries()) {
          for (const [what, capture] of CAPTURES) {
            const want = await whole.forward(ids, capture);
            assertSameForward(await engines[i]!.forward(ids, capture), want, `prompt ${p}, ${what}`, 0);
          }
        }
        const moe = whole.config.layers.flatMap((l, L) => (l.kind === 'moe' ? [L] : []));
        if (moe.length > 0) {
          const masked = { maskedExperts: new Map(moe.map((L) => [L, [1]])) };
          const capture = { routing: true, hidden: false, logits: true };
          assertSameForward(await engines[i]!.forward(prompts[0]!, capture, masked), await whole.forward(prompts[0]!, capture, masked), 'masked', 0);
        }
      });
    });
  });
}
