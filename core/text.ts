/** "a, b, c and 2 more": the first `max` items of a list, then how many were left out. */
export function listSome(items: readonly string[], max: number, separator = ", "): string {
  return items.length <= max ? items.join(separator) : `${items.slice(0, max).join(separator)} and ${items.length - max} more`;
}

/**
 * Names that say "secret": masked in plans, pull request plans and diffs (a safety net: secrets belong in env or
 * files on the host, never in the repo).
 */
export const SECRET_NAME = /token|secret|password|passwd|credentials?|api[_-]?key|private[_-]?key/i;
