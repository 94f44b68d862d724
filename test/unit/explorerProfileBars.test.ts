// The Expert Explorer's profile panel, webview side: order, bar lengths, value text, accessible names,
// change detection, keyboard movement, and the profile parts of the host message and persisted UI state.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExplorerProfile } from '../../src/protocol/explorerProtocol';
import { parseHostMessage } from '../../webview/explorer/hostMessages';
import {
  barLabel,
  barPercent,
  barScale,
  expertColour,
  expertRanks,
  formatStatistic,
  layerSummary,
  moveInList,
  orderExperts,
  profileBars,
  sameProfile,
  significant,
} from '../../webview/explorer/profileBars';
import { DEFAULT_PROFILE_UI, DEFAULT_UI_STATE, parseUiState } from '../../webview/explorer/uiState';

const VALUES = [0.2, 0.5, 0, 0.5, 0.1];

describe('profile bars: order', () => {
  it('sorts by value, largest first, ties by id; or keeps id order', () => {
    assert.deepEqual(orderExperts(VALUES, 'value'), [1, 3, 0, 4, 2]);
    assert.deepEqual(orderExperts(VALUES, 'id'), [0, 1, 2, 3, 4]);
    assert.deepEqual(orderExperts([], 'value'), []);
    assert.deepEqual(VALUES, [0.2, 0.5, 0, 0.5, 0.1], 'the input is not reordered');
  });

  it('puts values that are not numbers last', () => {
    assert.deepEqual(orderExperts([1, Number.NaN, 3, null as unknown as number], 'value'), [2, 0, 1, 3]);
  });

  it('ranks experts consistently with the order', () => {
    assert.deepEqual(expertRanks(VALUES), [3, 1, 5, 2, 4]);
  });
});

describe('profile bars: lengths and text', () => {
  it('scales to the layer\'s largest value', () => {
    assert.equal(barScale(VALUES), 0.5);
    assert.equal(barScale([0, 0]), 0);
    assert.equal(barScale([-1, Number.NaN]), 0);
    assert.equal(barPercent(0.5, 0.5), 100);
    assert.equal(barPercent(0.2, 0.5), 40);
    assert.equal(barPercent(1 / 3, 1), 33.3);
    assert.equal(barPercent(0, 0.5), 0);
    assert.equal(barPercent(-0.1, 0.5), 0);
    assert.equal(barPercent(0.0001, 1), 0.5, 'a positive value stays visible');
    assert.equal(barPercent(2, 1), 100);
    assert.equal(barPercent(1, 0), 0);
    assert.equal(barPercent(Number.NaN, 1), 0);
    assert.equal(barPercent(Infinity, 1), 0);
  });

  it('writes values with three significant digits, frequency in percent', () => {
    assert.equal(significant(0), '0');
    assert.equal(significant(0.123456), '0.123');
    assert.equal(significant(0.0123456), '0.0123');
    assert.equal(significant(1.23456), '1.23');
    assert.equal(significant(123.456), '123');
    assert.equal(significant(12345.6), '12,346');
    assert.equal(significant(0.00012), '1.2e-4');
    assert.equal(significant(Number.NaN), '–');
    assert.equal(formatStatistic(0.8, 'frequency'), '80.0%');
    assert.equal(formatStatistic(0.0123, 'frequency'), '1.2%');
    assert.equal(formatStatistic(0.8, 'reap'), '0.8');
    assert.equal(formatStatistic(1234.5, 'ean'), '1,235');
  });

  it('builds a layer\'s bars in display order with rank, text and length', () => {
    const bars = profileBars(VALUES, 'gate', 'value');
    assert.deepEqual(bars.map((b) => b.expert), [1, 3, 0, 4, 2]);
    assert.deepEqual(bars[0], { expert: 1, value: 0.5, text: '0.5', percent: 100, rank: 1 });
    assert.deepEqual(bars[4], { expert: 2, value: 0, text: '0', percent: 0, rank: 5 });
    const byId = profileBars(VALUES, 'gate', 'id');
    assert.deepEqual(byId.map((b) => [b.expert, b.rank, b.percent]), [[0, 3, 40], [1, 1, 100], [2, 5, 0], [3, 2, 100], [4, 4, 20]]);
  });

  it('summarises a layer and names each bar', () => {
    assert.deepEqual(layerSummary(VALUES, 'frequency'), { top: 1, topText: '50.0%', zeros: 1 });
    assert.deepEqual(layerSummary([], 'reap'), { top: undefined, topText: '', zeros: 0 });
    const bar = profileBars(VALUES, 'reap', 'value')[0]!;
    assert.equal(barLabel(3, bar, 'REAP', 5, true), 'layer 3, expert 1: REAP 0.5, rank 1 of 5, selected');
    assert.equal(barLabel(3, bar, 'REAP', 5, false), 'layer 3, expert 1: REAP 0.5, rank 1 of 5');
  });

  it('colours a bar with the expert\'s palette colour (16 colours, as in the editor)', () => {
    assert.equal(expertColour(3), 'var(--vscode-moeWorkbench-expert3)');
    assert.equal(expertColour(19), 'var(--vscode-moeWorkbench-expert3)');
    assert.equal(expertColour(15), 'var(--vscode-moeWorkbench-expert15)');
  });
});

describe('profile bars: keyboard', () => {
  it('moves within a layer\'s list and stops at its ends', () => {
    assert.equal(moveInList(2, 'ArrowDown', 5), 3);
    assert.equal(moveInList(4, 'ArrowDown', 5), 4);
    assert.equal(moveInList(0, 'ArrowUp', 5), 0);
    assert.equal(moveInList(2, 'Home', 5), 0);
    assert.equal(moveInList(2, 'End', 5), 4);
    assert.equal(moveInList(1, 'PageDown', 50, 10), 11);
    assert.equal(moveInList(5, 'PageUp', 50, 10), 0);
    assert.equal(moveInList(2, 'Enter', 5), undefined, 'Enter/Space are the button\'s own');
    assert.equal(moveInList(0, 'ArrowDown', 0), undefined);
  });
});

const PROFILE: ExplorerProfile = {
  file: 'run.profile.json',
  path: '/w/run.profile.json',
  model: 'tiny-moe',
  tokens: 10,
  documents: 3,
  truncated: false,
  statistic: 'reap',
  statisticLabel: 'REAP saliency',
  statistics: [{ id: 'reap', name: 'REAP', label: 'REAP saliency' }, { id: 'frequency', name: 'Frequency', label: 'share' }],
  layers: [{ layer: 0, values: [0.1, 0.2] }, { layer: 2, values: [0.3, 0] }],
};

describe('profile change detection', () => {
  it('tells a re-sent identical section from a changed one', () => {
    const copy = JSON.parse(JSON.stringify(PROFILE)) as ExplorerProfile;
    assert.ok(sameProfile(PROFILE, copy));
    assert.ok(sameProfile(undefined, undefined));
    assert.ok(!sameProfile(PROFILE, undefined));
    assert.ok(!sameProfile(PROFILE, { ...copy, statistic: 'frequency' }));
    assert.ok(!sameProfile(PROFILE, { ...copy, path: '/w/other.json' }));
    assert.ok(!sameProfile(PROFILE, { ...copy, layers: [copy.layers[0]!, { layer: 2, values: [0.3, 0.01] }] }));
    assert.ok(!sameProfile(PROFILE, { ...copy, layers: [copy.layers[0]!] }));
  });
});

describe('profile in host messages and UI state', () => {
  const state = { model: undefined, selectedLayer: undefined, selectedExpert: undefined, colourMode: 'expert', document: undefined };

  it('accepts a state with a profile and rejects a malformed profile', () => {
    assert.deepEqual(parseHostMessage({ type: 'state', state: { ...state, profile: PROFILE } }), { type: 'state', state: { ...state, profile: PROFILE } });
    for (const profile of ['x', { ...PROFILE, layers: 'x' }, { ...PROFILE, layers: [{ layer: 0 }] }, { ...PROFILE, statistics: undefined }, { ...PROFILE, statistic: 3 }]) {
      assert.equal(parseHostMessage({ type: 'state', state: { ...state, profile } }), undefined, JSON.stringify(profile));
    }
  });

  it('persists the order, the expanded layers and the last profile seen', () => {
    assert.deepEqual(DEFAULT_UI_STATE.profile, DEFAULT_PROFILE_UI);
    assert.deepEqual(parseUiState({ tab: 'profile', profile: { order: 'id', expanded: [3, 0, 3, -1, 1.5, 'x'], seen: '/w/a.json' } }).profile, { order: 'id', expanded: [3, 0], seen: '/w/a.json' });
    assert.equal(parseUiState({ tab: 'profile' }).tab, 'profile');
    assert.deepEqual(parseUiState({ profile: { order: 'random', expanded: 'all', seen: 1 } }).profile, DEFAULT_PROFILE_UI);
    assert.deepEqual(parseUiState({ scroll: { profile: { top: 40, left: 0 } } }).scroll.profile, { top: 40, left: 0 });
  });
});
