// `npm run package`: one VSIX per platform (vsce --target), each with exactly its own onnxruntime-node
// runtime, in dist-vsix/. `-- --target linux-x64` (repeatable) builds only those. Expects a production
// build in dist/ (the npm script runs it first). Every target is checked before anything is packaged, and
// every VSIX's contents are checked after.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipEntries } from './zipEntries';
import { ignoreRules, parseTarget, repoRoot, runtimeFiles, runtimeProblems, vsixPath, vsixTargets, type VsixTarget } from './vsixTargets';

function requestedTargets(argv: readonly string[]): VsixTarget[] {
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--target') {
      const value = argv[++i];
      if (value === undefined) throw new Error('--target needs a value, e.g. --target linux-x64');
      names.push(...value.split(','));
    } else if (arg.startsWith('--target=')) {
      names.push(...arg.slice('--target='.length).split(','));
    } else {
      throw new Error(`unknown argument "${arg}": usage: packageVsix [--target ${vsixTargets.join('|')}]...`);
    }
  }
  return names.length === 0 ? [...vsixTargets] : names.map(parseTarget);
}

/** Runs vsce (`package` or `ls`) with `target`'s ignore rules; returns its stdout when `capture`. */
export function runVsce(command: 'package' | 'ls', target: VsixTarget, extraArgs: readonly string[], capture: boolean): string {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-vsix-'));
  try {
    const ignoreFile = path.join(scratch, `${target}.vscodeignore`);
    fs.writeFileSync(ignoreFile, ignoreRules(target));
    const vsce = path.join(path.dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
    const targetArgs = command === 'package' ? ['--allow-missing-repository', '--no-rewrite-relative-links', '--target', target] : [];
    const result = spawnSync(process.execPath, [vsce, command, ...targetArgs, '--ignoreFile', ignoreFile, ...extraArgs], {
      cwd: repoRoot,
      stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`vsce ${command} for ${target} failed (exit ${result.status ?? result.signal})`);
    return result.stdout ?? '';
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Packages `target`'s VSIX at `out` and checks that it holds exactly that target's runtime. */
export function packageTarget(target: VsixTarget, out = vsixPath(target)): void {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  runVsce('package', target, ['-o', out], false);
  const problems = runtimeProblems(zipEntries(out), target);
  if (problems.length > 0) throw new Error(`${path.relative(repoRoot, out)} has the wrong runtime:\n  ${problems.join('\n  ')}`);
}

function main(): void {
  const targets = requestedTargets(process.argv.slice(2));
  for (const t of targets) runtimeFiles(t); // fail before packaging anything
  for (const t of targets) {
    const started = Date.now();
    packageTarget(t);
    console.log(`packageVsix: ${path.relative(repoRoot, vsixPath(t))} (${(fs.statSync(vsixPath(t)).size / 1e6).toFixed(1)} MB, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`packageVsix: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
