// Command ids, views, settings and colours are declared once in code and must match package.json.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { colourContributions } from '../../src/features/decorations/palette';
import { Commands, Contexts, PROMPT_LANGUAGE, Settings, Views, Walkthroughs } from '../../src/features/ids';
import { repoRoot } from '../support/paths';

interface WalkthroughStep {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: unknown };
  completionEvents?: string[];
}

interface Manifest {
  main: string;
  license: string;
  bin: Record<string, string>;
  capabilities?: { untrustedWorkspaces?: { supported: boolean | 'limited'; description?: string; restrictedConfigurations?: string[] } };
  contributes: {
    walkthroughs?: { id: string; title: string; description: string; steps: WalkthroughStep[] }[];
    commands: { command: string; enablement?: string }[];
    views: Record<string, { id: string }[]>;
    viewsContainers: { activitybar: { id: string }[] };
    configuration: { id?: string; title?: string; properties: Record<string, unknown> }[];
    colors: { id: string; defaults: Record<string, string> }[];
    languages: { id: string; extensions: string[] }[];
    menus: Record<string, { command: string; when?: string; group?: string }[]>;
  };
}
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest;
/** Every setting of every configuration section. */
const settings: Record<string, unknown> = Object.assign({}, ...pkg.contributes.configuration.map((c) => c.properties));

describe('package.json manifest', () => {
  it('declares exactly the commands the code registers', () => {
    assert.deepEqual(pkg.contributes.commands.map((c) => c.command).sort(), Object.values(Commands).sort());
    for (const id of [Commands.profileExperts, Commands.pruneExperts, Commands.mergeExperts, Commands.fineTuneExperts, Commands.openReport, Commands.duplicateExpert, Commands.addExperts]) {
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

  it('offers Upcycle to MoE while a dense model is open: the Model view title and the palette, on the context key the flow sets', () => {
    const menus = pkg.contributes.menus;
    const title = (menus['view/title'] ?? []).find((m) => m.command === Commands.upcycleToMoe);
    assert.ok(title, 'upcycle is in the Model view title menu');
    assert.match(title.when ?? '', new RegExp(`view == ${Views.modelTree.replace('.', '\\.')} && ${Contexts.denseModelOpen.replace('.', '\\.')}`));
    assert.equal((menus['commandPalette'] ?? []).find((m) => m.command === Commands.upcycleToMoe)?.when, Contexts.denseModelOpen);
    assert.equal(pkg.contributes.commands.find((c) => c.command === Commands.upcycleToMoe)?.enablement, undefined, 'upcycle is enabled');
  });

  it('puts Duplicate Expert on experts and Add Experts on layers; Continue Training New Experts is enabled by the context key the command sets', () => {
    const menus = pkg.contributes.menus;
    const ctx = menus['view/item/context'] ?? [];
    assert.match(ctx.find((m) => m.command === Commands.duplicateExpert)?.when ?? '', /viewItem == moeExpert/);
    assert.match(ctx.find((m) => m.command === Commands.addExperts)?.when ?? '', /viewItem == moeLayer/);
    assert.equal((menus['commandPalette'] ?? []).find((m) => m.command === Commands.duplicateExpert)?.when, 'false', 'Duplicate Expert needs the expert the menu was opened on');
    assert.equal((menus['commandPalette'] ?? []).find((m) => m.command === Commands.continueTrainingNewExperts)?.when, Contexts.modelHasNewExperts);
    assert.equal(pkg.contributes.commands.find((c) => c.command === Commands.continueTrainingNewExperts)?.enablement, Contexts.modelHasNewExperts);
  });

  it('declares the views, settings and prompt language the code uses', () => {
    assert.deepEqual(pkg.contributes.viewsContainers.activitybar.map((c) => c.id), [Views.container]);
    assert.deepEqual(pkg.contributes.views[Views.container]!.map((v) => v.id).sort(), [Views.explorer, Views.modelTree].sort());
    for (const key of [Settings.modelPath, Settings.debounceMs, Settings.tokensPerPass, Settings.memoryBudget]) assert.ok(`${Settings.section}.${key}` in settings, key);
    assert.deepEqual(pkg.contributes.languages.find((l) => l.id === PROMPT_LANGUAGE)?.extensions, ['.prompt', '.prompt.md']);
  });

  it('contributes the palette colours exactly as palette.ts defines them', () => {
    const byId = new Map(pkg.contributes.colors.map((c) => [c.id, c.defaults]));
    for (const c of colourContributions()) assert.deepEqual(byId.get(c.id), c.defaults, c.id);
  });

  it('has a Get Started walkthrough: open a model, annotate, the explorer, profile, prune; every step completes on our commands', () => {
    const walkthroughs = pkg.contributes.walkthroughs ?? [];
    assert.deepEqual(walkthroughs.map((w) => w.id), [Walkthroughs.getStarted]);
    const steps = walkthroughs[0]!.steps;
    assert.deepEqual(steps.map((s) => s.id), ['openModel', 'annotate', 'explorer', 'profile', 'prune']);
    const declared = new Set(pkg.contributes.commands.map((c) => c.command));
    const views = new Set(Object.values(pkg.contributes.views).flat().map((v) => v.id));
    for (const step of steps) {
      const media = step.media.markdown ?? '';
      assert.ok(media.startsWith('media/walkthrough/') && media.endsWith('.md'), `${step.id}: media is a markdown file in media/walkthrough/`);
      assert.ok(fs.readFileSync(path.join(repoRoot, media), 'utf8').startsWith('# '), `${media} exists and has a heading`);
      const events = step.completionEvents ?? [];
      assert.ok(events.some((e) => e.startsWith('onCommand:')), `${step.id} completes on a command`);
      for (const e of events) {
        const [kind, id] = e.split(':') as [string, string];
        if (kind === 'onCommand') assert.ok(declared.has(id), `${step.id}: ${e} names a declared command`);
        else if (kind === 'onView') assert.ok(views.has(id), `${step.id}: ${e} names a declared view`);
        else assert.fail(`${step.id}: unexpected completion event ${e}`);
      }
      const links = [...step.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]!);
      assert.ok(links.length > 0, `${step.id} has a button`);
      for (const id of links) assert.ok(declared.has(id), `${step.id}: its button runs ${id}, a declared command`);
    }
  });

  it('supports Restricted Mode in part: the workspace may not choose the model folder', () => {
    const untrusted = pkg.capabilities?.untrustedWorkspaces;
    assert.equal(untrusted?.supported, 'limited');
    assert.match(untrusted?.description ?? '', /trust/);
    const modelPath = `${Settings.section}.${Settings.modelPath}`;
    assert.deepEqual(untrusted?.restrictedConfigurations, [modelPath]);
    assert.ok(modelPath in settings);
  });

  it('names the settings in the Settings UI without a "Moe Workbench" made from their keys', () => {
    // The Settings UI labels a setting "<prefix>: <name>" with the key's prefix wordified ("moeWorkbench" →
    // "Moe Workbench") unless the prefix is the id of the configuration section it is shown under; the
    // extension's own entry is titled by its displayName. So: one section per key prefix, id = prefix.
    assert.equal((pkg as unknown as { displayName: string }).displayName, 'MoE Workbench');
    for (const section of pkg.contributes.configuration) {
      assert.ok(section.id && section.title, `a configuration section has an id and a title: ${JSON.stringify(section)}`);
      assert.doesNotMatch(section.title, /Moe /);
      for (const key of Object.keys(section.properties)) assert.equal(key.slice(0, key.lastIndexOf('.')), section.id, `${key} is in the section its prefix names`);
    }
    assert.deepEqual(pkg.contributes.configuration.map((c) => c.title), ['Model', 'Annotation']);
  });

  it('ships an MIT LICENSE, as package.json says', () => {
    assert.equal(pkg.license, 'MIT');
    assert.match(fs.readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8'), /^MIT License\n/);
  });

  it('points main and bin at the bundles', () => {
    assert.equal(pkg.main, './dist/extension.js');
    assert.equal(pkg.bin['moe-workbench'], './dist/cli.js');
  });
});
