// The rule table: op type -> backward. A new op adds a row here (and its shape in shapes.ts).
import { elementwiseRules } from './elementwiseRules';
import type { GradRule } from './gradRule';
import { indexRules } from './indexRules';
import { linalgRules } from './linalgRules';
import { shapeRules } from './shapeRules';

export const GRADIENT_RULES: Readonly<Record<string, GradRule>> = { ...elementwiseRules, ...linalgRules, ...shapeRules, ...indexRules };

/** Ops whose outputs never carry a gradient: integer/boolean results, shapes, positions, masks. */
export const NON_DIFFERENTIABLE: ReadonlySet<string> = new Set([
  'Shape', 'Range', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Not', 'NonZero', 'ArgMax', 'ConstantOfShape',
]);
