// ModelManager against the real engine process (dist/engineWorker.js): a failed Open Model… keeps the model
// that was working (issue #8, 4.7), and in Restricted Mode a workspace's moeWorkbench.modelPath is held
// back until the workspace is trusted (issue #8, 2). The vscode API around it is faked (workspace trust,
// configuration scopes, notifications); VS Code's own behaviour is covered by test/e2e/trust.e2e.ts.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/host/engineClient';
import type { ModelState } from '../../src/features/model/modelManager';
import { FakeEmitter, fakeVscode, withFakeVscode } from '../support/fakeVscode';
import { fixture, repoRoot, workerBundle } from '../support/paths';

interface Scopes {
  globalValue?: string;
  workspaceValue?: string;
}

/** What the fake workspace holds; each test sets it up. */
const env = {
  trusted: true,
  scopes: {} as Scopes,
  folder: undefined as string | undefined,
  errors: [] as string[],
  infos: [] as string[],
  commands: [] as string[],
  memoryBudget: undefined as string | undefined,
};
const configChanged = new FakeEmitter<{ affectsConfiguration(s: string): boolean }>();
const trustGranted = new FakeEmitter<void>();

Object.assign(fakeVscode, {
  ProgressLocation: { Window: 10 },
  commands: { executeCommand: async (id: string) => void env.commands.push(id) },
  workspace: {
    get isTrusted() {
      return env.trusted;
    },
    get workspaceFolders() {
      return env.folder ? [{ uri: { fsPath: env.folder } }] : undefined;
    },
    workspaceFile: undefined,
    onDidChangeConfiguration: configChanged.event,
    onDidGrantWorkspaceTrust: trustGranted.event,
    getConfiguration: () => ({
      // As VS Code without restrictedConfigurations would answer: the workspace value wins.
      get: (key: string, def: string) => (key === 'memoryBudget' ? (env.memoryBudget ?? def) : (env.scopes.workspaceValue ?? env.scopes.globalValue ?? def)),
      inspect: () => ({ key: 'moeWorkbench.modelPath', defaultValue: '', ...env.scopes }),
    }),
  },
});
Object.assign(fakeVscode.window, {
  withProgress: (_opts: unknown, task: (p: { report(): void }) => Promise<unknown>) => task({ report: () => undefined }),
  showErrorMessage: async (m: string) => void env.errors.push(m),
  showInformationMessage: async (m: string) => void env.infos.push(m),
});

const { ModelManager } = withFakeVscode(() => require('../../src/features/model/modelManager') as typeof import('../../src/features/model/modelManager'));

const demoModel = path.join(repoRoot, 'media', 'demo-model');
const memento = (): { get<T>(k: string, d: T): T; update(k: string, v: unknown): Promise<void> } => {
  const m = new Map<string, unknown>();
  return { get: <T>(k: string, d: T) => (m.has(k) ? (m.get(k) as T) : d), update: async (k, v) => void m.set(k, v) };
};

describe('ModelManager', () => {
  let engine: EngineClient;
  let scratch: string;
  const managers: { dispose(): void }[] = [];
  before(() => {
    engine = new EngineClient({ workerPath: workerBundle, execArgv: [] });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-model-manager-'));
  });
  afterEach(() => {
    for (const m of managers.splice(0)) m.dispose();
    Object.assign(env, { trusted: true, scopes: {}, folder: undefined, errors: [], infos: [], commands: [], memoryBudget: undefined });
  });
  after(async () => {
    await engine.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  function manager(): InstanceType<typeof ModelManager> {
    const m = new ModelManager(engine, memento() as never, demoModel);
    managers.push(m);
    return m;
  }

  /** A folder that looks like a checkpoint but whose config.json is broken. */
  function brokenModel(): string {
    const dir = fs.mkdtempSync(path.join(scratch, 'broken-'));
    fs.writeFileSync(path.join(dir, 'config.json'), '{ "model_type": "mixtral", ');
    return dir;
  }

  it('keeps the working model when Open Model… fails, in the status and in the engine', async () => {
    const m = manager();
    const states: ModelState['kind'][] = [];
    m.onDidChange((s) => states.push(s.kind));
    const demo = await m.open(demoModel);
    await assert.rejects(m.open(brokenModel()));
    assert.equal(m.state.kind, 'ready');
    assert.equal(m.state.kind === 'ready' && m.state.dir, demoModel);
    assert.equal(m.info?.name, demo.name);
    assert.deepEqual(states, ['loading', 'ready', 'loading', 'ready']);
    // The engine answers for the kept model: it is loaded, not just shown.
    assert.equal((await engine.request('inspect', {})).path, demo.path);
    const { tokens } = await engine.request('forward', { input: { text: 'still here' }, capture: { routing: true, hidden: false, logits: false } });
    assert.ok(tokens.length > 0);
    assert.equal(env.errors.length, 1);
    assert.match(env.errors[0]!, /could not load the model: .*config\.json.* Still using demo-model\./s);
  });

  it('an annotation waiting on the failed load gets the kept model', async () => {
    const m = manager();
    const demo = await m.open(demoModel);
    const opening = m.open(brokenModel()).catch(() => 'failed');
    const waited = await m.ensureLoaded();
    assert.equal(await opening, 'failed');
    assert.equal(waited?.path, demo.path);
  });

  it('a failed load with nothing loaded before is an error state', async () => {
    const m = manager();
    await m.close();
    await assert.rejects(m.open(path.join(scratch, 'no-such-model')));
    assert.equal(m.state.kind, 'error');
    assert.doesNotMatch(env.errors[0]!, /Still using/);
  });

  it('in Restricted Mode loads the demo model, not the workspace\'s modelPath, and says so once', async () => {
    env.trusted = false;
    env.folder = scratch;
    env.scopes = { workspaceValue: fixture('mixtral') };
    const m = manager();
    assert.equal(m.configuredDir(), demoModel);
    const info = await m.ensureLoaded();
    assert.equal(info?.path, demoModel);
    assert.equal((await engine.request('inspect', {})).path, demoModel);
    assert.equal(env.infos.length, 1);
    assert.match(env.infos[0]!, /Restricted Mode: this workspace's moeWorkbench\.modelPath \(.*mixtral\) is not loaded until you trust the workspace\. Using demo-model instead\./);
    assert.ok(info?.warnings?.some((w) => /Restricted Mode/.test(w)), 'the status bar tooltip notes it');
    // A user-level model path still applies in Restricted Mode.
    env.scopes = { ...env.scopes, globalValue: fixture('qwen3_moe') };
    assert.equal(m.configuredDir(), fixture('qwen3_moe'));
  });

  it('loads the workspace\'s modelPath once the workspace is trusted', async () => {
    env.trusted = false;
    env.scopes = { workspaceValue: fixture('mixtral') };
    const m = manager();
    await m.ensureLoaded();
    assert.equal(m.info?.path, demoModel);
    const ready = new Promise<ModelState>((resolve) => m.onDidChange((s) => s.kind === 'ready' && resolve(s)));
    env.trusted = true;
    trustGranted.fire();
    const s = await ready;
    assert.equal(s.kind === 'ready' && s.info.path, fixture('mixtral'));
    assert.ok(!(s.kind === 'ready' && s.info.warnings?.some((w) => /Restricted Mode/.test(w))));
  });

  it('an explicitly opened model works in Restricted Mode and stays when trust is granted', async () => {
    env.trusted = false;
    env.scopes = { workspaceValue: fixture('mixtral') };
    const m = manager();
    const info = await m.open(fixture('qwen3_moe'));
    assert.equal(info.path, fixture('qwen3_moe'));
    assert.equal(env.infos.length, 0);
    env.trusted = true;
    trustGranted.fire();
    assert.equal(m.state.kind, 'ready');
    assert.equal(m.info?.path, fixture('qwen3_moe'));
  });

  it('an invalid moeWorkbench.memoryBudget fails the load naming the setting and keeps the model; a change loads the model again', async () => {
    const m = manager();
    const demo = await m.open(demoModel);
    env.memoryBudget = 'lots';
    await assert.rejects(m.open(fixture('qwen3_moe')), /setting moeWorkbench\.memoryBudget "lots" is not a memory size/);
    assert.equal(m.info?.path, demo.path);
    assert.match(env.errors[0]!, /could not load the model: setting moeWorkbench\.memoryBudget "lots" is not a memory size: .* Still using demo-model\./);
    const states: ModelState['kind'][] = [];
    m.onDidChange((s) => states.push(s.kind));
    const ready = new Promise<ModelState>((resolve) => m.onDidChange((s) => s.kind === 'ready' && resolve(s)));
    env.memoryBudget = '4GiB';
    configChanged.fire({ affectsConfiguration: (k: string) => k === 'moeWorkbench.memoryBudget' });
    const s = await ready;
    assert.deepEqual(states, ['loading', 'ready']);
    assert.equal(s.kind === 'ready' && s.info.path, demo.path);
  });
});
