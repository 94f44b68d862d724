// Command ids, views, settings and colours are declared once in code and must match package.json.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { colourContributions } from '../../src/features/decorations/palette';
import { Commands, PROMPT_LANGUAGE, Settings, Views } from '../../src/features/ids';
import { repoRoot } from '../support/paths';

interface Manifest {
  main: string;
  bin: Record<string, string>;
  contributes: {
    commands: { command: string; enablement?: string }[];
    views: Record<string, { id: string }[]>;
    viewsContainers: { activitybar: { id: string }[] };
    configuration: { properties: Record<string, unknown> };
    colors: { id: string; defaults: Record<string, string> }[];
    languages: { id: string; extensions: string[] }[];
    menus: Record<string, { command: string; when?: string; group?: string }[]>;
  };
}
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest;

describe('package.json manifest', () => {
  it('declares exactly the commands the code registers', () => {
    assert.deepEqual(pkg.contributes.commands.map((c) => c.command).sort(), Object.values(Commands).sort());
    for (const id of [Commands.fineTuneExpert, Commands.duplicateExpert]) {
      assert.equal(pkg.contributes.commands.find((c) => c.command === id)?.enablement, 'false', `${id} is shown disabled until it exists`);
    }
    for (const id of [Commands.profileExperts, Commands.pruneExperts, Commands.mergeExperts, Commands.openReport]) {
      assert.equal(pkg.contributes.commands.find((c) => c.command === id)?.enablement, undefined, `${id} is enabled`);
    }
  });

  it('puts prune on layer and expert items of the Model tree, merge on layers, and every menu entry is a declared command', () => {
    const menus = pkg.contributes.menus;
    const ctx = menus['view/item/context'] ?? [];
    const prune = ctx.find((m) => m.command === Commands.pruneExperts);
    assert.ok(prune, 'prune is in the tree context menu');
    assert.match(prune.when ?? '', new RegExp(`view == ${Views.modelTree.replace('.', '\\.')}`));
    for (const item of ['moeLayer', 'moeExpert']) assert.ok(new RegExp((/viewItem =~ \/(.*)\//.exec(prune.when ?? '')?.[1]) ?? '^$').test(item), `prune shows on ${item}`);
    assert.match(ctx.find((m) => m.command === Commands.mergeExperts)?.when ?? '', /viewItem == moeLayer/);
    const declared = new Set(pkg.contributes.commands.map((c) => c.command));
    for (const [where, entries] of Object.entries(menus)) for (const m of entries) assert.ok(declared.has(m.command), `${where}: ${m.command} is declared`);
    const title = (menus['view/title'] ?? []).filter((m) => (m.when ?? '').includes(Views.modelTree)).map((m) => m.command);
    for (const id of [Commands.profileExperts, Commands.selectProfileStatistic, Commands.pruneExperts, Commands.mergeExperts]) assert.ok(title.includes(id), `${id} in the Model view title`);
  });

  it('declares the views, settings and prompt language the code uses', () => {
    assert.deepEqual(pkg.contributes.viewsContainers.activitybar.map((c) => c.id), [Views.container]);
    assert.deepEqual(pkg.contributes.views[Views.container]!.map((v) => v.id).sort(), [Views.explorer, Views.modelTree].sort());
    for (const key of [Settings.modelPath, Settings.debounceMs, Settings.tokensPerPass]) assert.ok(`${Settings.section}.${key}` in pkg.contributes.configuration.properties, key);
    assert.deepEqual(pkg.contributes.languages.find((l) => l.id === PROMPT_LANGUAGE)?.extensions, ['.prompt', '.prompt.md']);
  });

  it('contributes the palette colours exactly as palette.ts defines them', () => {
    const byId = new Map(pkg.contributes.colors.map((c) => [c.id, c.defaults]));
    for (const c of colourContributions()) assert.deepEqual(byId.get(c.id), c.defaults, c.id);
  });

  it('points main and bin at the bundles', () => {
    assert.equal(pkg.main, './dist/extension.js');
    assert.equal(pkg.bin['moe-workbench'], './dist/cli.js');
  });
});
