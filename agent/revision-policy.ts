import type { RevisionRow } from "../run/journal.js";

/**
 * What the agent does with the head of its branch (design.md Decisions), as a pure decision:
 * - a new revision is applied, unless it does not descend from the applied one (a rewind or force-push,
 *   refused unless allowed), or its signature is required and missing/untrusted;
 * - a revision already marked invalid or failed is not tried again: drift healing aims at the last good one;
 * - a revision already good is kept converged (drift healing).
 */
export type RevisionDecision =
  | { action: "apply"; revision: string }
  | { action: "heal"; revision: string }
  | { action: "hold"; revision: string | undefined; reason: string };

export interface RevisionFacts {
  head: string;
  headRow: RevisionRow | undefined;
  lastGood: string | undefined;
  /** undefined when unknown (no applied revision, or the applied one is not a commit of this repo). */
  descends: boolean | undefined;
  allowRewind: boolean;
  /** undefined when signatures are not checked; otherwise the verify-commit verdict. */
  signature?: { ok: boolean; detail: string } | undefined;
}

export function decideRevision(f: RevisionFacts): RevisionDecision {
  const fallback = f.lastGood;
  if (f.headRow?.status === "good") return { action: "heal", revision: f.head };
  if (f.headRow?.status === "invalid" || f.headRow?.status === "failed") {
    const why = `${f.head} is marked ${f.headRow.status}${f.headRow.message ? `: ${f.headRow.message.split("\n")[0]}` : ""}; waiting for a newer revision`;
    return fallback ? { action: "heal", revision: fallback } : { action: "hold", revision: undefined, reason: why };
  }
  if (f.lastGood && f.lastGood !== f.head && f.descends === false && !f.allowRewind) {
    return { action: "hold", revision: fallback, reason: `${f.head} does not descend from the applied ${f.lastGood} (rewound or force-pushed branch); refused without --allow-rewind` };
  }
  if (f.signature && !f.signature.ok) {
    return { action: "hold", revision: fallback, reason: `${f.head} has no trusted signature: ${f.signature.detail}` };
  }
  return { action: "apply", revision: f.head };
}

/** ±fraction jitter around an interval, so a fleet's agents do not poll in lockstep. */
export function jittered(intervalMs: number, random = Math.random(), fraction = 0.1): number {
  return Math.max(1, Math.round(intervalMs * (1 - fraction + 2 * fraction * random)));
}
