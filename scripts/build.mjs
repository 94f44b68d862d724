// One esbuild script for every bundle: extension host, engine worker, CLI (Node, CommonJS) and the
// webview bundles (browser, ESM). `vscode` and `onnxruntime-node` stay external: the first is provided by
// VS Code, the second loads its native binding with a computed require and ships in the VSIX as is.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'onnxruntime-node'],
  logLevel: 'warning',
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { engineWorker: 'src/engine/worker/engineWorker.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'src/cli/cli.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
];

const webviewEntries = existsSync('webview')
  ? Object.fromEntries(readdirSync('webview').filter((f) => /^[a-zA-Z]+\.main\.ts$/.test(f)).map((f) => [f.replace('.main.ts', ''), `webview/${f}`]))
  : {};
if (Object.keys(webviewEntries).length > 0) {
  builds.push({ bundle: true, platform: 'browser', target: 'es2022', format: 'esm', sourcemap: !production, minify: production, entryPoints: webviewEntries, outdir: 'dist/webview', logLevel: 'warning' });
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
