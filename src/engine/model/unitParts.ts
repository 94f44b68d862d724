// Where each converted tensor goes in a unit's float32 buffers, when a unit is split over several buffers
// so that several conversion workers fill it at once (an ArrayBuffer can be in one thread only, and ONNX
// Runtime refuses SharedArrayBuffer inputs, so a buffer is filled by one thread). Largest tensors first,
// each into the part holding the fewest elements so far; fixed at load, so every part's buffer keeps one
// size for every unit.

/** A converted tensor's place: buffer `part`, element offset `at` in it. */
export interface Placement {
  readonly part: number;
  readonly at: number;
}

export interface UnitParts {
  readonly placement: ReadonlyMap<string, Placement>;
  /** Elements of each part's buffer (the largest any unit puts there). */
  readonly sizes: readonly number[];
}

/** Places the tensors of every unit (name, elements, in the unit's order) into `parts` buffers. */
export function placeUnits(units: Iterable<readonly { readonly name: string; readonly elements: number }[]>, parts: number): UnitParts {
  const placement = new Map<string, Placement>();
  const sizes = new Array<number>(parts).fill(0);
  for (const ts of units) {
    const fill = new Array<number>(parts).fill(0);
    const bySize = [...ts].sort((a, b) => b.elements - a.elements);
    for (const t of bySize) {
      let p = 0;
      for (let q = 1; q < parts; q++) if (fill[q]! < fill[p]!) p = q;
      placement.set(t.name, { part: p, at: fill[p]! });
      fill[p] = fill[p]! + t.elements;
    }
    fill.forEach((n, p) => (sizes[p] = Math.max(sizes[p]!, n)));
  }
  return { placement, sizes };
}
