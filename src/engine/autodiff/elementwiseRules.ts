// Backward of the elementwise ops (broadcasting binaries unbroadcast to each input's shape).
import type { GradRule } from './gradRule';
import { unbroadcast, zero } from './gradRule';

const binary = (partial: (cx: Parameters<GradRule['grad']>[0], dy: string, a: string, b: string, y: string, i: 0 | 1) => string): GradRule => ({
  grad(cx, n, [dy], need) {
    const [a, b] = n.inputs as [string, string];
    const from = cx.shape(n.outputs[0]!);
    return [0, 1].map((i) => (need[i] ? unbroadcast(cx, partial(cx, dy!, a, b, n.outputs[0]!, i as 0 | 1), from, n.inputs[i]!) : undefined));
  },
});

const unary = (f: (cx: Parameters<GradRule['grad']>[0], dy: string, x: string, y: string) => string): GradRule => ({
  diffInputs: [0],
  grad: (cx, n, [dy]) => [f(cx, dy!, n.inputs[0]!, n.outputs[0]!)],
});

export const elementwiseRules: Record<string, GradRule> = {
  Add: binary((_cx, dy) => dy),
  Sub: binary((cx, dy, _a, _b, _y, i) => (i === 0 ? dy : cx.g.op('Neg', [dy]))),
  Mul: binary((cx, dy, a, b, _y, i) => cx.g.op('Mul', [dy, i === 0 ? b : a])),
  // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b.
  Div: binary((cx, dy, _a, b, y, i) => (i === 0 ? cx.g.op('Div', [dy, b]) : cx.g.op('Neg', [cx.g.op('Div', [cx.g.op('Mul', [dy, y]), b])]))),
  Neg: unary((cx, dy) => cx.g.op('Neg', [dy])),
  Identity: unary((_cx, dy) => dy),
  // Only float-to-float casts carry a gradient (others are in NON_DIFFERENTIABLE via their output type).
  Cast: unary((_cx, dy) => dy),
  Sqrt: unary((cx, dy, _x, y) => cx.g.op('Div', [cx.g.op('Mul', [dy, cx.g.scalar(0.5)]), y])),
  Exp: unary((cx, dy, _x, y) => cx.g.op('Mul', [dy, y])),
  Sigmoid: unary((cx, dy, _x, y) => cx.g.op('Mul', [dy, cx.g.op('Mul', [y, cx.g.op('Sub', [cx.g.scalar(1), y])])])),
  Sin: unary((cx, dy, x) => cx.g.op('Mul', [dy, cx.g.op('Cos', [x])])),
  Cos: unary((cx, dy, x) => cx.g.op('Neg', [cx.g.op('Mul', [dy, cx.g.op('Sin', [x])])])),
  // torch.clamp's gradient: passed through where lo <= x <= hi, 0 outside.
  Clip: {
    diffInputs: [0],
    grad(cx, n, [dy]) {
      const g = cx.g;
      const [x, lo, hi] = n.inputs;
      let inside: string | undefined;
      if (lo) inside = g.op('GreaterOrEqual', [x!, lo]);
      if (hi) {
        const below = g.op('LessOrEqual', [x!, hi]);
        inside = inside ? g.op('And', [inside, below]) : below;
      }
      return [inside ? g.op('Where', [inside, dy!, zero(cx)]) : dy];
    },
  },
  Where: {
    diffInputs: [1, 2],
    grad(cx, n, [dy], need) {
      const [c, a, b] = n.inputs as [string, string, string];
      const from = cx.shape(n.outputs[0]!);
      return [
        undefined,
        need[1] ? unbroadcast(cx, cx.g.op('Where', [c, dy!, zero(cx)]), from, a) : undefined,
        need[2] ? unbroadcast(cx, cx.g.op('Where', [c, zero(cx), dy!]), from, b) : undefined,
      ];
    },
  },
};
