// sRGB colour arithmetic for choosing readable text: parsing the theme's CSS colours, CSS color-mix(in srgb)
// and alpha compositing, and WCAG 2 contrast. Pure, so the explorer's colours are tested in plain Node.

/** 0–255 channels (not rounded), alpha 0–1. */
export interface Rgba {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly a: number;
}

/** WCAG 2.x AA for normal-size text (the load matrix writes 10 px numbers). */
export const AA_TEXT = 4.5;

export const BLACK: Rgba = { r: 0, g: 0, b: 0, a: 1 };
export const WHITE: Rgba = { r: 255, g: 255, b: 255, a: 1 };
export const TRANSPARENT: Rgba = { r: 0, g: 0, b: 0, a: 0 };

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** The colour formats VS Code writes into its `--vscode-*` variables: #rgb(a), #rrggbb(aa), rgb(a)(…), transparent. */
export function parseCssColour(text: string): Rgba | undefined {
  const s = text.trim().toLowerCase();
  if (s === 'transparent') return TRANSPARENT;
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.exec(s);
  if (hex) {
    let h = hex[1]!;
    if (h.length <= 4) h = [...h].map((c) => c + c).join('');
    const n = (i: number): number => parseInt(h.slice(i, i + 2), 16);
    return { r: n(0), g: n(2), b: n(4), a: h.length === 8 ? n(6) / 255 : 1 };
  }
  const fn = /^rgba?\(\s*([^)]*)\)$/.exec(s);
  if (!fn) return undefined;
  const parts = fn[1]!.split(/\s*[,/]\s*|\s+/).filter((p) => p !== '');
  if (parts.length !== 3 && parts.length !== 4) return undefined;
  const channel = (p: string): number => (p.endsWith('%') ? (parseFloat(p) / 100) * 255 : parseFloat(p));
  const [r, g, b] = parts.slice(0, 3).map(channel) as [number, number, number];
  const a = parts[3] === undefined ? 1 : parts[3].endsWith('%') ? parseFloat(parts[3]) / 100 : parseFloat(parts[3]);
  if (![r, g, b, a].every(Number.isFinite)) return undefined;
  return { r: clamp(r, 0, 255), g: clamp(g, 0, 255), b: clamp(b, 0, 255), a: clamp(a, 0, 1) };
}

/** CSS `color-mix(in srgb, a p%, b)`: premultiplied-alpha interpolation, `p` in 0–100. */
export function mixSrgb(a: Rgba, b: Rgba, p: number): Rgba {
  const t = clamp(p, 0, 100) / 100;
  const alpha = a.a * t + b.a * (1 - t);
  if (alpha === 0) return TRANSPARENT;
  const ch = (x: number, y: number): number => (x * a.a * t + y * b.a * (1 - t)) / alpha;
  return { r: ch(a.r, b.r), g: ch(a.g, b.g), b: ch(a.b, b.b), a: alpha };
}

/** `top` painted over `bottom` (source-over). */
export function over(top: Rgba, bottom: Rgba): Rgba {
  const a = top.a + bottom.a * (1 - top.a);
  if (a === 0) return TRANSPARENT;
  const ch = (x: number, y: number): number => (x * top.a + y * bottom.a * (1 - top.a)) / a;
  return { r: ch(top.r, bottom.r), g: ch(top.g, bottom.g), b: ch(top.b, bottom.b), a };
}

/** The colour as the browser will paint it: channels rounded to integers, alpha to 3 decimals. */
export function rounded(c: Rgba): Rgba {
  return { r: Math.round(c.r), g: Math.round(c.g), b: Math.round(c.b), a: Math.round(c.a * 1000) / 1000 };
}

export function cssColour(c: Rgba): string {
  const x = rounded(c);
  return x.a >= 1 ? `rgb(${x.r}, ${x.g}, ${x.b})` : `rgba(${x.r}, ${x.g}, ${x.b}, ${x.a})`;
}

/** WCAG relative luminance of an opaque colour. */
export function luminance(c: Rgba): number {
  const lin = (v: number): number => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
}

/** WCAG contrast ratio of two opaque colours (1–21). */
export function contrastRatio(x: Rgba, y: Rgba): number {
  const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * A text colour for the opaque background(s) `bg`: the first `preferred` colour that reaches `minimum` on
 * every background, else the first preferred colour moved towards black or white (whichever contrasts more)
 * just far enough. On one background one of black and white always reaches √21 ≈ 4.58, so AA always holds.
 */
export function readableText(bg: Rgba | readonly Rgba[], preferred: readonly Rgba[], minimum = AA_TEXT): Rgba {
  const grounds = (Array.isArray(bg) ? bg : [bg]).map(rounded);
  const worst = (c: Rgba): number => Math.min(...grounds.map((g) => contrastRatio(rounded(over(c, g)), g)));
  for (const p of preferred) if (worst(p) >= minimum) return rounded(over(p, grounds[0]!));
  const base = rounded(over(preferred[0] ?? WHITE, grounds[0]!));
  const extreme = worst(WHITE) >= worst(BLACK) ? WHITE : BLACK;
  for (let step = 5; step < 100; step += 5) {
    const c = rounded(mixSrgb(extreme, base, step));
    if (worst(c) >= minimum) return c;
  }
  return extreme;
}
