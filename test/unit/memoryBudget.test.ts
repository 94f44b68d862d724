// --memory-budget / moeWorkbench.memoryBudget sizes: binary and decimal units, plain bytes, and refusals
// that name the source of the text.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, parseMemoryBudget } from '../../src/engine/memory/memoryBudget';
import { MoeError } from '../../src/protocol/moeError';

describe('memory budget sizes', () => {
  it('reads GiB, MiB, GB, MB and plain bytes, in any case, with or without a space', () => {
    assert.equal(parseMemoryBudget('8GiB'), 8 * 2 ** 30);
    assert.equal(parseMemoryBudget('512 MiB'), 512 * 2 ** 20);
    assert.equal(parseMemoryBudget('1.5GB'), 1.5e9);
    assert.equal(parseMemoryBudget('300mb'), 3e8);
    assert.equal(parseMemoryBudget('1000000000'), 1e9);
    assert.equal(parseMemoryBudget(' 2 gib '), 2 * 2 ** 30);
  });

  it('refuses what is not a positive size, naming where it came from', () => {
    for (const bad of ['', 'lots', '8 GiBs', '-1GiB', '0', '0.0000001B', '1e9', '8 G']) {
      assert.throws(
        () => parseMemoryBudget(bad, 'setting moeWorkbench.memoryBudget'),
        (e: unknown) => e instanceof MoeError && e.code === 'E_INPUT' && e.message.startsWith(`setting moeWorkbench.memoryBudget "${bad}"`),
        bad,
      );
    }
    assert.throws(() => parseMemoryBudget('lots'), /^MoeError: --memory-budget "lots" is not a memory size: give a number with GiB, MiB, GB, MB/);
  });

  it('formats sizes for messages', () => {
    assert.equal(formatBytes(8 * 2 ** 30), '8.0 GiB');
    assert.equal(formatBytes(512 * 2 ** 20), '512 MiB');
    assert.equal(formatBytes(2048), '2 KiB');
    assert.equal(formatBytes(12), '12 B');
  });
});
