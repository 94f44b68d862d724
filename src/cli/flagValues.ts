// Flag values as a user types them, parsed the same way by every command.

/** A decimal number (no hex, no Infinity, no empty string). */
export const DECIMAL = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** "1,2,3" as non-negative integers; undefined when malformed (the caller names the flag). */
export function parseIdList(s: string): number[] | undefined {
  const parts = s.split(',').map((x) => x.trim());
  return parts.some((x) => !/^\d+$/.test(x)) ? undefined : parts.map(Number);
}
