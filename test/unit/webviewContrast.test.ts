// WCAG AA (4.5:1) for the Expert Explorer's numbers on coloured cells, in VS Code's default dark, light and
// high-contrast themes (and random ones): the colours the load matrix sets inline, re-parsed and measured
// here with an independent contrast computation.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { alertTextColour, EMPTY_PERCENT, heatCellColours, heatTheme, type HeatTheme } from '../../webview/explorer/cellColours';
import { cssColour, mixSrgb, over, parseCssColour, readableText, TRANSPARENT } from '../../webview/explorer/colourMath';
import { MIN_CHOSEN_PERCENT } from '../../webview/explorer/shade';

/** The `--vscode-*` values of default themes (sideBar, editor, foreground, charts.blue/red; errorForeground). */
const THEMES: Record<string, { dark: boolean; vars: Record<string, string> }> = {
  'Dark Modern': { dark: true, vars: { '--vscode-list-inactiveSelectionBackground': '#37373d', '--vscode-list-hoverBackground': '#2a2d2e', '--vscode-sideBar-background': '#181818', '--vscode-editor-background': '#1f1f1f', '--vscode-foreground': '#cccccc', '--vscode-charts-blue': '#3794ff', '--vscode-charts-red': '#f14c4c' } },
  'Dark Modern (VS Code 1.10x info colours)': { dark: true, vars: { '--vscode-sideBar-background': '#181818', '--vscode-foreground': '#cccccc', '--vscode-charts-blue': '#59a4f9', '--vscode-charts-red': '#f85149' } },
  'Light Modern': { dark: false, vars: { '--vscode-list-inactiveSelectionBackground': '#e4e6f1', '--vscode-list-hoverBackground': '#f2f2f2', '--vscode-sideBar-background': '#f8f8f8', '--vscode-editor-background': '#ffffff', '--vscode-foreground': '#3b3b3b', '--vscode-charts-blue': '#1a85ff', '--vscode-charts-red': '#e51400' } },
  'Light Modern (VS Code 1.10x info colours)': { dark: false, vars: { '--vscode-sideBar-background': '#f8f8f8', '--vscode-foreground': '#3b3b3b', '--vscode-charts-blue': '#0063d3', '--vscode-charts-red': '#e51400' } },
  'Dark+': { dark: true, vars: { '--vscode-list-inactiveSelectionBackground': '#37373d', '--vscode-list-hoverBackground': '#2a2d2e', '--vscode-sideBar-background': '#252526', '--vscode-foreground': '#cccccc', '--vscode-charts-blue': '#3794ff', '--vscode-charts-red': '#f14c4c' } },
  'Light+': { dark: false, vars: { '--vscode-list-inactiveSelectionBackground': '#e4e6f1', '--vscode-list-hoverBackground': '#e8e8e8', '--vscode-sideBar-background': '#f3f3f3', '--vscode-foreground': '#616161', '--vscode-charts-blue': '#1a85ff', '--vscode-charts-red': '#e51400' } },
  'Dark High Contrast': { dark: true, vars: { '--vscode-editor-background': '#000000', '--vscode-foreground': '#ffffff', '--vscode-charts-blue': '#3794ff', '--vscode-charts-red': '#f48771' } },
  'Light High Contrast': { dark: false, vars: { '--vscode-editor-background': '#ffffff', '--vscode-foreground': '#292929', '--vscode-charts-blue': '#1a85ff', '--vscode-charts-red': '#b5200d' } },
  'translucent side bar, rgba() variables': { dark: true, vars: { '--vscode-sideBar-background': 'rgba(40, 40, 60, 0.5)', '--vscode-editor-background': '#101010', '--vscode-foreground': 'rgba(230, 230, 230, 0.9)', '--vscode-charts-blue': 'rgb(55 148 255)', '--vscode-errorForeground': '#f00' } },
};

// An implementation of WCAG contrast independent of colourMath.ts, applied to the CSS strings set inline.
function rgbOf(css: string): [number, number, number] {
  const m = /^rgb\((\d+), (\d+), (\d+)\)$/.exec(css);
  assert.ok(m, `an opaque rgb() colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
function wcagContrast(a: string, b: string): number {
  const lum = (c: [number, number, number]): number => {
    const [r, g, bl] = c.map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(rgbOf(a)), lum(rgbOf(b))].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

function themeOf(name: string): HeatTheme {
  const t = THEMES[name]!;
  const theme = heatTheme((n) => t.vars[n] ?? '', t.dark);
  assert.ok(theme, name);
  return theme;
}

/** Every shade the load matrix can use: 0, and MIN_CHOSEN_PERCENT..100. */
const SHADES = [0, ...Array.from({ length: 101 - MIN_CHOSEN_PERCENT }, (_, i) => MIN_CHOSEN_PERCENT + i)];

describe('load matrix cell text meets WCAG AA', () => {
  for (const name of Object.keys(THEMES)) {
    it(`${name}: every shade, counts and zeros`, () => {
      const theme = themeOf(name);
      let worst = Infinity;
      for (const percent of SHADES) {
        for (const zero of percent === 0 ? [true, false] : [false]) {
          const c = heatCellColours(theme, percent, zero);
          const ratio = wcagContrast(cssColour(c.text), cssColour(c.background));
          worst = Math.min(worst, ratio);
          assert.ok(ratio >= 4.5, `${name}, ${percent}%${zero ? ' (zero)' : ''}: ${cssColour(c.text)} on ${cssColour(c.background)} is ${ratio.toFixed(2)}:1`);
        }
      }
      assert.ok(worst >= 4.5);
    });
  }

  it('the theme foreground alone failed on a full-strength cell (why the text is chosen per cell)', () => {
    for (const [name, expected] of [['Dark Modern', 1.9], ['Light Modern', 3.1]] as const) {
      const theme = themeOf(name);
      const full = cssColour(heatCellColours(theme, 100, false).background);
      assert.equal(wcagContrast(cssColour(theme.foreground), full).toFixed(1), expected.toFixed(1), name);
    }
  });

  it('keeps the theme foreground where it is readable, and zeros red', () => {
    const theme = themeOf('Dark Modern');
    assert.equal(cssColour(heatCellColours(theme, MIN_CHOSEN_PERCENT, false).text), 'rgb(204, 204, 204)');
    for (const name of Object.keys(THEMES)) {
      const z = parseCssColour(cssColour(heatCellColours(themeOf(name), 0, true).text))!;
      assert.ok(z.r > z.g + 40 && z.r > z.b + 40, `${name}: a zero is still red (${cssColour(z)})`);
    }
  });

  it('random themes: AA on every shade (black or white always reaches 4.58:1)', () => {
    let seed = 99;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const hex = (): string => `#${Math.floor(rnd() * 0xffffff).toString(16).padStart(6, '0')}`;
    for (let i = 0; i < 300; i++) {
      const vars: Record<string, string> = { '--vscode-sideBar-background': hex(), '--vscode-foreground': hex(), '--vscode-charts-blue': hex(), '--vscode-charts-red': hex() };
      const theme = heatTheme((n) => vars[n] ?? '', rnd() < 0.5)!;
      for (const percent of [0, 12, 30, 50, 70, 85, 100]) {
        for (const zero of [false, true]) {
          const c = heatCellColours(theme, percent, zero);
          const ratio = wcagContrast(cssColour(c.text), cssColour(c.background));
          assert.ok(ratio >= 4.5, `${JSON.stringify(vars)} ${percent}% zero=${zero}: ${ratio.toFixed(2)}`);
        }
      }
    }
  });
});

describe('balance table alert text meets WCAG AA', () => {
  for (const name of Object.keys(THEMES)) {
    it(`${name}: unused experts in red on plain, selected and hovered rows`, () => {
      const theme = themeOf(name);
      const text = cssColour(alertTextColour(theme));
      for (const bg of [theme.background, ...theme.rowBackgrounds]) {
        const ratio = wcagContrast(text, cssColour(bg));
        assert.ok(ratio >= 4.5, `${name}: ${text} on ${cssColour(bg)} is ${ratio.toFixed(2)}:1`);
      }
      const c = parseCssColour(text)!;
      assert.ok(c.r > c.g + 40 && c.r > c.b + 40, `still red: ${text}`);
    });
  }
  it('charts.red as is failed in Light+, Light Modern and Dark+', () => {
    for (const name of ['Light+', 'Light Modern', 'Dark+']) {
      const theme = themeOf(name);
      assert.ok(wcagContrast(cssColour(theme.alert), cssColour(theme.background)) < 4.5, name);
    }
  });
});

describe('token heatmap row headers meet WCAG AA in the current default and high-contrast themes', () => {
  // descriptionForeground and the find-match highlight (#ea5c0055) behind a revealed row, as VS Code defines them.
  const ROWS: Record<string, { bg: string; fg: string; description: string; revealed?: string }> = {
    'Dark Modern': { bg: '#181818', fg: '#cccccc', description: '#9d9d9d', revealed: '#ea5c0055' },
    'Light Modern': { bg: '#f8f8f8', fg: '#3b3b3b', description: '#3b3b3b', revealed: '#ea5c0055' },
    'Dark High Contrast': { bg: '#000000', fg: '#ffffff', description: 'rgba(255, 255, 255, 0.7)' },
    'Light High Contrast': { bg: '#ffffff', fg: '#292929', description: 'rgba(41, 41, 41, 0.7)' },
  };
  const on = (text: string, bg: string, under?: string): number => {
    const ground = under === undefined ? parseCssColour(bg)! : over(parseCssColour(bg)!, parseCssColour(under)!);
    return wcagContrast(cssColour(over(parseCssColour(text)!, ground)), cssColour(ground));
  };
  for (const [name, t] of Object.entries(ROWS)) {
    it(`${name}: not-yet-analysed rows (description colour, no fading) and the revealed row`, () => {
      assert.ok(on(t.description, t.bg) >= 4.5, `description ${on(t.description, t.bg).toFixed(2)}`);
      const faded = over(mixSrgb(parseCssColour(t.fg)!, TRANSPARENT, 45), parseCssColour(t.bg)!);
      if (name.includes('Modern')) assert.ok(wcagContrast(cssColour(faded), cssColour(parseCssColour(t.bg)!)) < 4.5, 'opacity 0.45 was below AA');
      if (t.revealed) {
        assert.ok(on(t.fg, t.revealed, t.bg) >= 4.5, `token text on the revealed row ${on(t.fg, t.revealed, t.bg).toFixed(2)}`);
      }
    });
  }
  it('the stylesheet fades no text and gives the revealed row\'s index the foreground', () => {
    const css = fs.readFileSync(path.join(__dirname, '..', '..', 'webview', 'components', 'tokenHeatmap.styles.ts'), 'utf8');
    assert.doesNotMatch(css, /opacity:\s*0\.[0-7]/, 'no faded text (the clear button\'s × at 0.8 stays above AA)');
    assert.match(css, /\.row\.revealed \.ix \{ color: var\(--vscode-foreground\); \}/);
    assert.ok(on('#9d9d9d', '#ea5c0055', '#181818') < 4.5, 'the description colour there was below AA in Dark Modern');
  });
});

describe('colour math follows CSS', () => {
  it('parses the formats VS Code writes', () => {
    assert.deepEqual(parseCssColour('#3794ff'), { r: 55, g: 148, b: 255, a: 1 });
    assert.deepEqual(parseCssColour(' #ea5c0055 '), { r: 234, g: 92, b: 0, a: 0x55 / 255 });
    assert.deepEqual(parseCssColour('#f00'), { r: 255, g: 0, b: 0, a: 1 });
    assert.deepEqual(parseCssColour('rgba(255, 255, 255, 0.7)'), { r: 255, g: 255, b: 255, a: 0.7 });
    assert.deepEqual(parseCssColour('rgb(10 20 30 / 50%)'), { r: 10, g: 20, b: 30, a: 0.5 });
    assert.deepEqual(parseCssColour('transparent'), TRANSPARENT);
    for (const bad of ['', 'var(--x)', '#12', 'rgb(1,2)', 'red', 'rgb(a, b, c)']) assert.equal(parseCssColour(bad), undefined, bad);
  });

  it('color-mix(in srgb) with transparent keeps the hue and scales alpha; compositing', () => {
    const fg = parseCssColour('#cccccc')!;
    assert.deepEqual(mixSrgb(fg, TRANSPARENT, EMPTY_PERCENT), { r: 204, g: 204, b: 204, a: 0.07 });
    const blue = parseCssColour('#3794ff')!;
    assert.deepEqual(mixSrgb(blue, fg, 100), blue);
    assert.equal(cssColour(over(mixSrgb(fg, TRANSPARENT, 50), parseCssColour('#000000')!)), 'rgb(102, 102, 102)');
  });

  it('readable text moves the preferred colour only as far as AA needs', () => {
    const bg = parseCssColour('#3794ff')!;
    const c = readableText(bg, [parseCssColour('#cccccc')!]);
    const ratio = wcagContrast(cssColour(c), cssColour(bg));
    assert.ok(ratio >= 4.5 && ratio < 6, `just enough: ${ratio.toFixed(2)}`);
  });
});
