// `--data a b c` (the spelling) as well as `--data a --data b`: values that follow a multi-value
// flag up to the next `--flag` are rewritten as repeated flags before node:util parseArgs sees them.
export function expandMultiValueFlags(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  let current: string | undefined;
  for (const a of argv) {
    if (a.startsWith('--')) {
      current = flags.includes(a) ? a : undefined;
      if (current) continue; // emitted with each value
      out.push(a);
      continue;
    }
    if (current) out.push(current, a);
    else out.push(a);
  }
  return out;
}
