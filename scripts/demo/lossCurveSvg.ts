// The demo model's loss curve as a self-contained SVG (TRAINING.md shows it): training loss per step and
// held-out loss at each evaluation, against steps.
export interface LossPoint {
  readonly step: number;
  readonly loss: number;
  readonly evalLoss?: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function lossCurveSvg(points: readonly LossPoint[], width = 720, height = 360): string {
  const m = { l: 56, r: 16, t: 24, b: 44 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const steps = points.map((p) => p.step);
  const values = points.flatMap((p) => (p.evalLoss === undefined ? [p.loss] : [p.loss, p.evalLoss])).filter(Number.isFinite);
  const x0 = Math.min(...steps, 0);
  const x1 = Math.max(...steps, 1);
  const y0 = Math.floor(Math.min(...values, 0));
  const y1 = Math.ceil(Math.max(...values, 1));
  const x = (s: number): number => m.l + ((s - x0) / (x1 - x0 || 1)) * w;
  const y = (v: number): number => m.t + (1 - (v - y0) / (y1 - y0 || 1)) * h;
  const line = (pts: [number, number][]): string => pts.map(([a, b], i) => `${i ? 'L' : 'M'}${x(a).toFixed(1)},${y(b).toFixed(1)}`).join('');
  const train = points.filter((p) => Number.isFinite(p.loss)).map((p) => [p.step, p.loss] as [number, number]);
  const held = points.filter((p) => p.evalLoss !== undefined && Number.isFinite(p.evalLoss)).map((p) => [p.step, p.evalLoss!] as [number, number]);
  const yTicks = Array.from({ length: y1 - y0 + 1 }, (_, i) => y0 + i);
  // A round tick interval (1, 2 or 5 × 10^n) giving at most 10 ticks.
  const span = x1 - x0 || 1;
  const pow = 10 ** Math.floor(Math.log10(span / 10));
  const xStep = [1, 2, 5, 10].map((f) => f * pow).find((d) => span / d <= 10) ?? 10 * pow;
  const xTicks: number[] = [];
  for (let s = Math.ceil(x0 / xStep) * xStep; s <= x1; s += xStep) xTicks.push(s);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...yTicks.map((v) => `<line x1="${m.l}" x2="${m.l + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/><text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v}</text>`),
    ...xTicks.map((s) => `<text x="${x(s).toFixed(1)}" y="${m.t + h + 16}" text-anchor="middle" fill="#555">${s}</text>`),
    `<text x="${m.l + w / 2}" y="${height - 8}" text-anchor="middle" fill="#333">step</text>`,
    `<text x="14" y="${m.t + h / 2}" text-anchor="middle" fill="#333" transform="rotate(-90 14 ${m.t + h / 2})">loss (nats/token)</text>`,
    `<path d="${line(train)}" fill="none" stroke="#4e79a7" stroke-width="1.2"/>`,
    held.length ? `<path d="${line(held)}" fill="none" stroke="#e15759" stroke-width="2"/>` : '',
    ...held.map(([s, v]) => `<circle cx="${x(s).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="#e15759"/>`),
    `<rect x="${m.l + w - 150}" y="${m.t + 6}" width="144" height="40" fill="#fff" stroke="#ccc"/>`,
    `<line x1="${m.l + w - 142}" x2="${m.l + w - 122}" y1="${m.t + 20}" y2="${m.t + 20}" stroke="#4e79a7" stroke-width="2"/><text x="${m.l + w - 116}" y="${m.t + 24}">${esc('training')}</text>`,
    `<line x1="${m.l + w - 142}" x2="${m.l + w - 122}" y1="${m.t + 36}" y2="${m.t + 36}" stroke="#e15759" stroke-width="2"/><text x="${m.l + w - 116}" y="${m.t + 40}">${esc('held-out samples')}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
