// The platform-specific VSIXes: which VS Code targets we build, which onnxruntime-node runtime each one
// carries, and the ignore rules that put exactly that runtime (and no other platform's) into it.
// scripts/packageVsix.ts packages with these; test/unit/vsixContents.test.ts checks with the same functions.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..');

/** The VS Code targets (`vsce package --target`) `npm run package` builds. */
export const vsixTargets = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64', 'win32-arm64'] as const;
export type VsixTarget = (typeof vsixTargets)[number];

/**
 * Targets VS Code has but we cannot build, with the reason; asking for one fails with it. Intel macOS:
 * ONNX Runtime stopped shipping macOS x86_64 binaries with 1.24 (microsoft/onnxruntime#27961), so
 * onnxruntime-node has no bin/napi-v6/darwin/x64.
 */
export const unbuildableTargets: Readonly<Record<string, string>> = {
  'darwin-x64': 'onnxruntime-node ships no Intel-macOS (darwin/x64) runtime since ONNX Runtime 1.24 (microsoft/onnxruntime#27961)',
};

const ortPackage = 'node_modules/onnxruntime-node';

/** Where onnxruntime-node keeps a target's binding and shared libraries: `bin/napi-v6/<os>/<arch>`, relative to the repo. */
export function runtimeDir(target: VsixTarget, root = repoRoot): string {
  const [os, arch] = target.split('-') as [string, string];
  const bin = path.join(root, ortPackage, 'bin');
  const napi = fs.existsSync(bin) ? fs.readdirSync(bin).filter((d) => /^napi-v\d+$/.test(d)) : [];
  if (napi.length !== 1) {
    throw new Error(`expected one napi-v* folder in ${path.join(ortPackage, 'bin')}, found ${napi.length === 0 ? 'none' : napi.join(', ')}: is onnxruntime-node installed (npm ci)?`);
  }
  return `${ortPackage}/bin/${napi[0]}/${os}/${arch}`;
}

/** The runtime files a target's VSIX must hold (paths relative to the repo, sorted); throws naming the folder if the package lacks them. */
export function runtimeFiles(target: VsixTarget, root = repoRoot): string[] {
  const dir = runtimeDir(target, root);
  const abs = path.join(root, dir);
  const files = fs.existsSync(abs) ? fs.readdirSync(abs, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
  const version = readOrtVersion(root);
  if (!files.some((e) => e.name === 'onnxruntime_binding.node')) {
    throw new Error(`cannot build the ${target} VSIX: onnxruntime-node ${version} has no ${dir}/onnxruntime_binding.node (its runtime for ${target} is not in the package)`);
  }
  return files.map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort();
}

/** The ignore file for one target: the project .vscodeignore plus a re-include of that target's runtime only. */
export function ignoreRules(target: VsixTarget, root = repoRoot): string {
  const base = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  if (/onnxruntime-node\/bin/.test(base.replace(/^#.*$/gm, ''))) {
    throw new Error('.vscodeignore must not include onnxruntime-node/bin itself: scripts/vsixTargets.ts adds the one runtime each target needs');
  }
  return `${base.trimEnd()}\n# ${target}: its onnxruntime-node runtime, no other platform's\n!${runtimeDir(target, root)}/**\n`;
}

/** Where `npm run package` writes a target's VSIX. */
export function vsixPath(target: VsixTarget, root = repoRoot): string {
  return path.join(root, 'dist-vsix', `moe-workbench-${target}.vsix`);
}

/** Checks a requested target name, with the reason when it is one we cannot build. */
export function parseTarget(name: string): VsixTarget {
  if ((vsixTargets as readonly string[]).includes(name)) return name as VsixTarget;
  const why = unbuildableTargets[name];
  if (why) throw new Error(`cannot build the ${name} VSIX: ${why}`);
  throw new Error(`unknown VSIX target "${name}": expected one of ${vsixTargets.join(', ')}`);
}

function readOrtVersion(root: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(root, ortPackage, 'package.json'), 'utf8')) as { version?: string }).version ?? '(unknown version)';
  } catch {
    return '(not installed)';
  }
}

/**
 * What is wrong with a packaged VSIX's onnxruntime-node runtime (empty when it holds exactly `target`'s
 * binding and libraries and nothing of another platform). `entries` are the zip's names (`extension/…`).
 */
export function runtimeProblems(entries: readonly string[], target: VsixTarget, root = repoRoot): string[] {
  const prefix = 'extension/';
  const shipped = entries.filter((e) => e.startsWith(`${prefix}${ortPackage}/bin/`) && !e.endsWith('/')).map((e) => e.slice(prefix.length));
  const expected = runtimeFiles(target, root);
  const problems = expected.filter((f) => !shipped.includes(f)).map((f) => `missing ${f}`);
  problems.push(...shipped.filter((f) => !expected.includes(f)).map((f) => `holds ${f}, which is not the ${target} runtime`));
  return problems;
}
