// Installing the project: dependency install scripts are governed by package.json's allowScripts
// (onnxruntime-node's CUDA download denied), with no project .npmrc key npm does not know, so a plain
// `npm install` or `npm ci` prints no warning about either.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean; version?: string }>;
};

/** The package name of a lockfile key (`node_modules/a/node_modules/@s/b` → `@s/b`). */
function packageName(key: string): string {
  return key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

describe('install scripts', () => {
  it('denies onnxruntime-node its CUDA download and allows esbuild', () => {
    assert.equal(manifest.allowScripts?.['onnxruntime-node'], false);
    assert.equal(manifest.allowScripts?.['esbuild'], true);
  });

  it('reviews every locked dependency that has an install script, by name (the lockfile records no resolved URLs to pin against)', () => {
    const withScripts = Object.entries(lock.packages).filter(([key, p]) => key !== '' && p.hasInstallScript === true).map(([key]) => packageName(key));
    assert.ok(withScripts.includes('onnxruntime-node'));
    const unreviewed = withScripts.filter((name) => typeof manifest.allowScripts?.[name] !== 'boolean');
    assert.deepEqual(unreviewed, [], `add these to package.json's allowScripts (true to run, false to deny): ${unreviewed.join(', ')}`);
  });

  it('npm sees no unreviewed install script and warns about no project config', () => {
    const result = spawnSync('npm', ['install-scripts', 'ls'], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /No packages with unreviewed install scripts/);
    assert.doesNotMatch(result.stderr, /warn/i);
  });
});
