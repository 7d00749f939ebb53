/**
 * "Did you mean" for a mistyped word: the closest candidate by edit distance (insert, delete, substitute, swap
 * of two neighbours), if it is close enough to be a plausible typo. Case differences alone count as a typo.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.toLowerCase() === w ? 0 : distance(w, c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  // One edit in a short word, up to a third of a longer one: "hanoff" → "handoff", never "dns" → "edge".
  if (!best || best.d > Math.max(1, Math.floor(w.length / 3))) return undefined;
  return best.c;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transposition). */
function distance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
