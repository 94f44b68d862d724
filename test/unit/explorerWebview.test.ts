// Pure logic of the Expert Explorer webview (webview/explorer/*: no DOM at import time).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actionAt, clampPos, navigateGrid, type GridShape } from '../../webview/explorer/gridNavigation';
import { EMPTY_HEATMAP, tooltipLines, type HeatmapData } from '../../webview/explorer/heatmapData';
import { parseHostMessage } from '../../webview/explorer/hostMessages';
import { cellLabel, count, expertList, fixed, rowLabel } from '../../webview/explorer/labels';
import { MIN_CHOSEN_PERCENT, shadePercent, weightOf, weightScale } from '../../webview/explorer/shade';
import { spokenToken, visibleToken } from '../../webview/explorer/tokenText';
import { DEFAULT_UI_STATE, parseUiState } from '../../webview/explorer/uiState';
import { scrollToReveal, visibleRowRange } from '../../webview/explorer/virtualRows';

describe('token text', () => {
  it('makes whitespace and control characters visible', () => {
    assert.equal(visibleToken(' the'), '·the');
    assert.equal(visibleToken('\n\t'), '↵→');
    assert.equal(visibleToken('a\u0000b\u007f'), 'a␀b␡');
    assert.equal(visibleToken('\u00a0'), '⍽');
    assert.equal(visibleToken('<b>&'), '<b>&', 'HTML is not escaped here: the DOM gets it as textContent');
    assert.equal(visibleToken('😀é'), '😀é');
  });

  it('says whitespace tokens by name', () => {
    assert.equal(spokenToken(' hello'), "'hello'");
    assert.equal(spokenToken('\n'), 'newline');
    assert.equal(spokenToken('  '), 'space space');
    assert.equal(spokenToken(''), 'empty token');
  });
});

describe('shading', () => {
  it('maps weights to integer percentages with a floor for chosen experts', () => {
    assert.equal(shadePercent(0, 1), 0);
    assert.equal(shadePercent(-1, 1), 0);
    assert.equal(shadePercent(Number.NaN, 1), 0);
    assert.equal(shadePercent(0.72, 1), 72);
    assert.equal(shadePercent(0.01, 1), MIN_CHOSEN_PERCENT);
    assert.equal(shadePercent(1.7, 1), 100);
    assert.equal(shadePercent(8, 16), 50);
    assert.equal(shadePercent(1, 0), 0);
  });

  it('saturates at the largest weight of the layer and finds a token\'s weight', () => {
    assert.equal(weightScale([[[0, 0.6], [1, 0.4]], []]), 0.6);
    assert.equal(weightScale([[[0, 2.5]], [[3, 4]]]), 4);
    assert.equal(weightScale([[], []]), 1, 'nothing known yet');
    assert.equal(weightOf([[3, 0.25], [5, 0.75]], 5), 0.75);
    assert.equal(weightOf([[3, 0.25]], 4), 0);
    assert.equal(weightOf(undefined, 0), 0);
  });
});

describe('grid keyboard navigation', () => {
  const shape: GridShape = { rows: 41, cols: 9, pageRows: 10 }; // 40 tokens, 8 experts, plus headers

  it('moves with arrows and stops at the edges', () => {
    assert.deepEqual(navigateGrid({ row: 1, col: 1 }, { key: 'ArrowDown' }, shape), { row: 2, col: 1 });
    assert.deepEqual(navigateGrid({ row: 1, col: 1 }, { key: 'ArrowUp' }, shape), { row: 0, col: 1 });
    assert.deepEqual(navigateGrid({ row: 0, col: 1 }, { key: 'ArrowUp' }, shape), { row: 0, col: 1 });
    assert.deepEqual(navigateGrid({ row: 5, col: 0 }, { key: 'ArrowLeft' }, shape), { row: 5, col: 0 });
    assert.deepEqual(navigateGrid({ row: 5, col: 8 }, { key: 'ArrowRight' }, shape), { row: 5, col: 8 });
    assert.deepEqual(navigateGrid({ row: 40, col: 3 }, { key: 'ArrowDown' }, shape), { row: 40, col: 3 });
  });

  it('Home/End go along the row, with Ctrl to the grid corners', () => {
    assert.deepEqual(navigateGrid({ row: 7, col: 4 }, { key: 'Home' }, shape), { row: 7, col: 0 });
    assert.deepEqual(navigateGrid({ row: 7, col: 4 }, { key: 'End' }, shape), { row: 7, col: 8 });
    assert.deepEqual(navigateGrid({ row: 7, col: 4 }, { key: 'Home', ctrlKey: true }, shape), { row: 0, col: 0 });
    assert.deepEqual(navigateGrid({ row: 7, col: 4 }, { key: 'End', metaKey: true }, shape), { row: 40, col: 8 });
  });

  it('PageUp/PageDown move a page, clamped', () => {
    assert.deepEqual(navigateGrid({ row: 7, col: 2 }, { key: 'PageDown' }, shape), { row: 17, col: 2 });
    assert.deepEqual(navigateGrid({ row: 35, col: 2 }, { key: 'PageDown' }, shape), { row: 40, col: 2 });
    assert.deepEqual(navigateGrid({ row: 7, col: 2 }, { key: 'PageUp' }, shape), { row: 0, col: 2 });
    assert.deepEqual(navigateGrid({ row: 7, col: 2 }, { key: 'PageUp' }, { ...shape, pageRows: 0 }), { row: 6, col: 2 }, 'at least one row');
  });

  it('ignores other keys and clamps into a shrunken grid', () => {
    assert.equal(navigateGrid({ row: 1, col: 1 }, { key: 'a' }, shape), undefined);
    assert.equal(navigateGrid({ row: 1, col: 1 }, { key: 'Enter' }, shape), undefined);
    assert.deepEqual(clampPos({ row: 99, col: 99 }, { rows: 3, cols: 2 }), { row: 2, col: 1 });
    assert.deepEqual(clampPos({ row: 5, col: 5 }, { rows: 0, cols: 0 }), { row: 0, col: 0 });
  });

  it('Enter reveals on a row header or cell, toggles on a column header, does nothing in the corner', () => {
    assert.deepEqual(actionAt({ row: 13, col: 0 }), { kind: 'revealToken', token: 12 });
    assert.deepEqual(actionAt({ row: 13, col: 4 }), { kind: 'revealToken', token: 12 });
    assert.deepEqual(actionAt({ row: 0, col: 4 }), { kind: 'toggleExpert', expert: 3 });
    assert.deepEqual(actionAt({ row: 0, col: 0 }), { kind: 'none' });
  });
});

describe('row virtualisation', () => {
  it('keeps only the rows in view plus overscan', () => {
    assert.deepEqual(visibleRowRange(0, 200, 20, 2000, 5), { start: 0, end: 15 });
    assert.deepEqual(visibleRowRange(1000, 200, 20, 2000, 5), { start: 45, end: 65 });
    assert.deepEqual(visibleRowRange(39_900, 200, 20, 2000, 5), { start: 1990, end: 2000 });
    assert.deepEqual(visibleRowRange(-50, 200, 20, 3, 5), { start: 0, end: 3 });
    assert.deepEqual(visibleRowRange(0, 200, 20, 0), { start: 0, end: 0 });
  });

  it('a 2,000-token document mounts a few dozen rows, not 2,000', () => {
    const r = visibleRowRange(20_000, 800, 20, 2000, 8);
    assert.ok(r.end - r.start <= 60);
  });

  it('scrolls just enough to reveal an item below a sticky header', () => {
    assert.equal(scrollToReveal(100, 300, 200, 20, 22), 100, 'already visible');
    assert.equal(scrollToReveal(100, 300, 110, 20, 22), 88, 'hidden under the header');
    assert.equal(scrollToReveal(100, 300, 400, 20, 22), 120, 'below the viewport');
    assert.equal(scrollToReveal(0, 300, 10, 20, 22), 0);
  });
});

describe('labels', () => {
  it('names cells as the brief describes', () => {
    assert.equal(cellLabel(12, 'hello', 3, 0.7234, true), "token 12 'hello', expert 3, weight 0.72");
    assert.equal(cellLabel(12, ' hello', 4, 0, true), "token 12 'hello', expert 4, not selected");
    assert.equal(cellLabel(0, '\n', 1, 0.5, false), 'token 0 newline, expert 1, routing not yet known');
    assert.equal(rowLabel(5, 'x', false), "token 5 'x', routing not yet known");
  });

  it('formats numbers and expert lists', () => {
    assert.equal(fixed(0.12345, 3), '0.123');
    assert.equal(fixed(Number.NaN, 2), '–');
    assert.equal(count(1234567), '1,234,567');
    assert.equal(count(12), '12');
    assert.equal(expertList([1, 2, 3]), '1, 2, 3');
    assert.equal(expertList([1, 2, 3, 4, 5, 6, 7, 8], 3), '1, 2, 3 +5 more');
  });
});

describe('persisted UI state', () => {
  it('falls back to defaults for anything unreadable', () => {
    assert.deepEqual(parseUiState(undefined), DEFAULT_UI_STATE);
    assert.deepEqual(parseUiState('x'), DEFAULT_UI_STATE);
    assert.deepEqual(parseUiState({ tab: 'nope', scroll: { tokens: { top: -5, left: 'a' } }, focus: { row: 2.7, col: -1 }, uri: 3, revealed: -1 }), {
      ...DEFAULT_UI_STATE,
      focus: { row: 2, col: 0 },
    });
  });

  it('round-trips a valid state', () => {
    const s = {
      tab: 'balance',
      scroll: { tokens: { top: 400, left: 30 }, load: { top: 0, left: 0 }, balance: { top: 12, left: 0 }, profile: { top: 80, left: 0 } },
      focus: { row: 9, col: 3 },
      uri: 'file:///a.prompt',
      revealed: 4,
      profile: { order: 'id', expanded: [0, 2], seen: '/w/run.profile.json' },
    } as const;
    assert.deepEqual(parseUiState(JSON.parse(JSON.stringify(s))), s);
  });
});

describe('host messages (webview side)', () => {
  it('accepts a state message and rejects the rest', () => {
    const state = { model: undefined, selectedLayer: undefined, selectedExpert: undefined, colourMode: 'expert', document: undefined, message: 'No model' };
    assert.deepEqual(parseHostMessage({ type: 'state', state }), { type: 'state', state });
    assert.equal(parseHostMessage({ type: 'state' }), undefined);
    assert.equal(parseHostMessage({ type: 'state', state: { ...state, document: { tokens: 'x' } } }), undefined);
    assert.equal(parseHostMessage({ type: 'other' }), undefined);
    assert.equal(parseHostMessage(null), undefined);
  });
});

describe('heatmap hover card', () => {
  const data: HeatmapData = {
    ...EMPTY_HEATMAP,
    tokens: [{ text: ' hello', id: 1 }, { text: '\n', id: 2 }],
    known: [true, false],
    routing: [[[3, 0.7234], [5, 0.2766]], []],
    load: [0, 0, 0, 1, 0, 1],
    numExperts: 6,
    layer: 2,
    selectedExpert: 3,
  };
  const texts = (row: number, col: number): string[] => tooltipLines(data, { row, col }).map((l) => l.text);

  it('describes a chosen and an unchosen cell with the token\'s top-k', () => {
    assert.deepEqual(texts(1, 4), ['#0  ·hello', 'Expert 3 · weight 0.723', 'Top-2: E3 0.72 · E5 0.28']);
    assert.deepEqual(texts(1, 1), ['#0  ·hello', 'Expert 0 · not selected', 'Top-2: E3 0.72 · E5 0.28']);
  });

  it('says when routing is not known yet', () => {
    assert.deepEqual(texts(2, 3), ['#1  ↵', 'Routing not yet known']);
  });

  it('describes headers, and nothing for the corner', () => {
    assert.deepEqual(texts(1, 0), ['#0  ·hello', 'Top-2: E3 0.72 · E5 0.28', 'Click to reveal in the editor']);
    assert.deepEqual(texts(0, 4), ['Expert 3', '1 token routed here', 'Click to clear the selection']);
    assert.deepEqual(texts(0, 1), ['Expert 0', '0 tokens routed here', 'Click to select this expert']);
    assert.deepEqual(texts(0, 0), []);
  });
});
