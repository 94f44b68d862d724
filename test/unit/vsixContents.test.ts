// The platform VSIXes: every target gets exactly its own onnxruntime-node runtime (checked on vsce's own
// file list for every target, and in a real packaged VSIX for one), and targets we cannot build say why.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { packageTarget, runVsce } from '../../scripts/packageVsix';
import { zipEntries } from '../../scripts/zipEntries';
import { ignoreRules, parseTarget, repoRoot, runtimeDir, runtimeFiles, runtimeProblems, vsixTargets } from '../../scripts/vsixTargets';

const ortBin = 'node_modules/onnxruntime-node/bin/';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-vsix-test-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function requireBuild(): void {
  assert.ok(fs.existsSync(path.join(repoRoot, 'dist', 'extension.js')), 'dist/extension.js is missing: run npm run build first (npm test does)');
}

describe('platform VSIXes', () => {
  it('builds linux-x64, linux-arm64, darwin-arm64, win32-x64 and win32-arm64', () => {
    assert.deepEqual([...vsixTargets].sort(), ['darwin-arm64', 'linux-arm64', 'linux-x64', 'win32-arm64', 'win32-x64']);
  });

  it('refuses darwin-x64 with the reason, and unknown targets with the list', () => {
    assert.throws(() => parseTarget('darwin-x64'), /cannot build the darwin-x64 VSIX: onnxruntime-node ships no Intel-macOS \(darwin\/x64\) runtime/);
    assert.throws(() => parseTarget('linux-riscv'), /unknown VSIX target "linux-riscv": expected one of linux-x64, /);
  });

  for (const target of vsixTargets) {
    it(`${target}: vsce would package exactly the ${target} runtime (binding + shared libraries)`, () => {
      requireBuild();
      const files = runtimeFiles(target);
      assert.ok(files.some((f) => f.endsWith('/onnxruntime_binding.node')), `${target}: no binding in ${files.join(', ')}`);
      assert.ok(files.length >= 2, `${target}: the binding without its onnxruntime shared library: ${files.join(', ')}`);
      assert.equal((ignoreRules(target).match(/^!.*onnxruntime-node\/bin/gm) ?? []).length, 1);
      const listed = runVsce('ls', target, [], true).split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
      assert.deepEqual(listed.filter((l) => l.startsWith(ortBin)).sort(), files);
      for (const required of ['package.json', 'LICENSE', 'dist/extension.js', 'node_modules/onnxruntime-node/dist/index.js', 'node_modules/onnxruntime-common/package.json']) {
        assert.ok(listed.includes(required), `${target}: vsce ls lacks ${required}`);
      }
    });
  }

  it('a packaged VSIX (linux-arm64) holds its runtime and no other platform', () => {
    requireBuild();
    const out = path.join(scratch, 'moe-workbench-linux-arm64.vsix');
    packageTarget('linux-arm64', out);
    const entries = zipEntries(out);
    assert.deepEqual(runtimeProblems(entries, 'linux-arm64'), []);
    assert.deepEqual(
      entries.filter((e) => e.includes(ortBin)).sort(),
      runtimeFiles('linux-arm64').map((f) => `extension/${f}`),
    );
    for (const required of ['extension.vsixmanifest', 'extension/package.json', 'extension/LICENSE.txt', 'extension/dist/extension.js']) {
      assert.ok(entries.includes(required), `the VSIX lacks ${required}: ${entries.slice(0, 20).join(', ')}…`);
    }
  });

  it('names what is wrong when a VSIX holds another platform or lacks a library', () => {
    const own = runtimeFiles('linux-x64').map((f) => `extension/${f}`);
    const foreign = `extension/${runtimeDir('win32-x64')}/onnxruntime.dll`;
    const problems = runtimeProblems([...own.slice(1), foreign], 'linux-x64');
    assert.deepEqual(problems, [`missing ${own[0]!.slice('extension/'.length)}`, `holds ${foreign.slice('extension/'.length)}, which is not the linux-x64 runtime`]);
  });

  it('fails naming the folder when the package lacks a platform runtime', () => {
    const root = path.join(scratch, 'partial');
    fs.mkdirSync(path.join(root, ortBin, 'napi-v6', 'linux', 'x64'), { recursive: true });
    fs.writeFileSync(path.join(root, ortBin, 'napi-v6', 'linux', 'x64', 'onnxruntime_binding.node'), '');
    fs.writeFileSync(path.join(root, 'node_modules', 'onnxruntime-node', 'package.json'), JSON.stringify({ version: '9.9.9' }));
    assert.equal(runtimeFiles('linux-x64', root).length, 1);
    assert.throws(
      () => runtimeFiles('win32-arm64', root),
      /cannot build the win32-arm64 VSIX: onnxruntime-node 9\.9\.9 has no node_modules\/onnxruntime-node\/bin\/napi-v6\/win32\/arm64\/onnxruntime_binding\.node/,
    );
  });

  it('keeps the runtime out of .vscodeignore itself, so no target can inherit another platform', () => {
    assert.doesNotMatch(fs.readFileSync(path.join(repoRoot, '.vscodeignore'), 'utf8').replace(/^#.*$/gm, ''), /onnxruntime-node\/bin/);
  });
});
