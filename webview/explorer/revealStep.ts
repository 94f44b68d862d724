// What the explorer does with the host's revealedToken, which is repeated in every state and absent for
// any document but the one "Show in Explorer" was used in: scroll to a newly revealed token, otherwise
// only keep the highlight in step (and drop it when the host no longer sends one).

export interface RevealStep {
  /** Scroll to the token, select the Tokens tab and make its row the focus target. */
  readonly scroll: boolean;
  /** The row to highlight; undefined = none. */
  readonly highlight: number | undefined;
}

/** `shown` is the token last acted on (undefined after another document was shown), `wanted` the host's. */
export function revealStep(shown: number | undefined, wanted: number | undefined): RevealStep {
  return { scroll: wanted !== undefined && wanted !== shown, highlight: wanted };
}
