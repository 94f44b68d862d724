// ProfileStore.followModel: a profile belongs to one model; switching to another model puts it aside and
// switching back brings it back (issue #8, 4.9: the Profile tab did not come back).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExpertProfile, LayerProfile } from '../../src/protocol/expertOps';
import type { ModelInfo } from '../../src/protocol/modelInfo';
import type { ModelState } from '../../src/features/model/modelManager';
import { FakeEmitter, withFakeVscode } from '../support/fakeVscode';

const { ProfileStore, profileFits } = withFakeVscode(() => require('../../src/features/profile/profileStore') as typeof import('../../src/features/profile/profileStore'));

function info(dir: string, numExperts = 4): ModelInfo {
  return { name: dir.split('/').pop()!, path: dir, moeLayers: [0, 1], numExperts, topK: 2 } as unknown as ModelInfo;
}

function layer(l: number, E = 4): LayerProfile {
  const z = new Array<number>(E).fill(0);
  return { layer: l, numExperts: E, topK: 2, tokens: 1, count: z, gateSum: z, probSum: z, eanSum: z, reapSum: z, maxNorm: z, logitSum: z, logitGram: new Array<number>(E * E).fill(0) };
}

function profileOf(dir: string, E = 4): { file: string; profile: ExpertProfile } {
  const profile = { model: { name: dir, dir, sha256: '00', modelType: 'mixtral' }, layers: [layer(0, E), layer(1, E)] } as unknown as ExpertProfile;
  return { file: `${dir}/moe-workbench-profiles/p.json`, profile };
}

function setup() {
  const models = new FakeEmitter<ModelState>();
  const store = new ProfileStore();
  store.followModel(models.event);
  const fired: unknown[] = [];
  store.onDidChange((p) => fired.push(p));
  const load = (i: ModelInfo): void => {
    models.fire({ kind: 'loading', dir: i.path });
    models.fire({ kind: 'ready', dir: i.path, info: i });
  };
  return { models, store, fired, load };
}

describe('ProfileStore.followModel', () => {
  it('brings a model\'s profile back after switching to another model and back', () => {
    const { store, load } = setup();
    const a = info('/m/a');
    const b = info('/m/b');
    load(a);
    const pa = profileOf('/m/a');
    store.set(pa);
    load(b);
    assert.equal(store.current, undefined, 'model b has no profile');
    load(a);
    assert.equal(store.current, pa, 'model a\'s profile is back');
  });

  it('keeps each model\'s own profile', () => {
    const { store, load } = setup();
    const a = info('/m/a');
    const b = info('/m/b');
    const pa = profileOf('/m/a');
    const pb = profileOf('/m/b');
    load(a);
    store.set(pa);
    load(b);
    store.set(pb);
    load(a);
    assert.equal(store.current, pa);
    load(b);
    assert.equal(store.current, pb);
  });

  it('fires a change when the profile goes and when it comes back', () => {
    const { store, load, fired } = setup();
    const pa = profileOf('/m/a');
    load(info('/m/a'));
    store.set(pa);
    load(info('/m/b'));
    load(info('/m/a'));
    assert.deepEqual(fired, [pa, undefined, pa]);
  });

  it('keeps the profile while another model loads or fails to load', () => {
    const { models, store, load } = setup();
    const pa = profileOf('/m/a');
    load(info('/m/a'));
    store.set(pa);
    models.fire({ kind: 'loading', dir: '/m/broken' });
    assert.equal(store.current, pa);
    models.fire({ kind: 'error', dir: '/m/broken', message: 'config.json not found' });
    assert.equal(store.current, pa);
  });

  it('drops the profile on close and restores it when the model is opened again', () => {
    const { models, store, load } = setup();
    const pa = profileOf('/m/a');
    load(info('/m/a'));
    store.set(pa);
    models.fire({ kind: 'none' });
    assert.equal(store.current, undefined);
    load(info('/m/a'));
    assert.equal(store.current, pa);
  });

  it('forgets a cleared profile', () => {
    const { store, load } = setup();
    load(info('/m/a'));
    store.set(profileOf('/m/a'));
    store.set(undefined);
    load(info('/m/b'));
    load(info('/m/a'));
    assert.equal(store.current, undefined);
  });

  it('does not bring back a profile that no longer fits the folder (rewritten with fewer experts)', () => {
    const { store, load } = setup();
    load(info('/m/a'));
    store.set(profileOf('/m/a'));
    load(info('/m/b'));
    load(info('/m/a', 3));
    assert.equal(store.current, undefined);
    load(info('/m/a', 3));
    assert.equal(store.current, undefined);
  });

  it('drops the profile when the same folder reloads with another shape', () => {
    const { store, load } = setup();
    load(info('/m/a'));
    store.set(profileOf('/m/a'));
    load(info('/m/a', 6));
    assert.equal(store.current, undefined);
  });

  it('profileFits compares layers, expert count and top-k', () => {
    assert.equal(profileFits(profileOf('/m/a').profile, info('/m/a')), true);
    assert.equal(profileFits(profileOf('/m/a', 8).profile, info('/m/a')), false);
    assert.equal(profileFits(profileOf('/m/a').profile, { ...info('/m/a'), moeLayers: [0, 2] }), false);
  });
});
