/**
 * tack's ownership marker: a UFW rule whose comment starts with `tack:` is tack's, and a Cloudflare record whose
 * comment starts with `tack:<host>` belongs to that host of a fleet (design.md Decisions). Everything else is
 * reported, never changed.
 */
export const TACK_MARKER = "tack:";

/** The stored comment of a UFW rule tack owns: `tack: <comment>`, or `tack:` alone. */
export function ufwComment(comment: string | undefined): string {
  return comment ? `${TACK_MARKER} ${comment}` : TACK_MARKER;
}

/** The stored comment of a DNS record owned by `host`: `tack:<host> <comment>`, or `tack:<host>` alone. */
export function dnsComment(host: string, comment: string | undefined): string {
  return comment ? `${TACK_MARKER}${host} ${comment}` : `${TACK_MARKER}${host}`;
}

/** The host named by a record's `tack:<host>` marker, or undefined for an unmanaged record. */
export function markerHost(comment: string | null | undefined): string | undefined {
  const c = comment ?? "";
  if (!c.startsWith(TACK_MARKER)) return undefined;
  return /^\S+/.exec(c.slice(TACK_MARKER.length))?.[0];
}

export function isTackComment(comment: string): boolean {
  return comment.startsWith(TACK_MARKER);
}
