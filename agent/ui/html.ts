import { SECRET_NAME } from "../../core/text.js";

/**
 * HTML text for the status page: every value from the status goes through `text()` (escaped, secrets masked).
 * Masking is the PR plans' rule (a secret-named key's value is hidden) applied to free text, plus the literal
 * values the agent knows to be secret (webhook secret, UI token, Cloudflare token), which are never shown.
 */
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

// KEY=VALUE, key: value, "key":"value" where the key names a secret; a ${VAR} reference is not a secret.
const SECRET_ASSIGNMENT = new RegExp(`([\\w.-]*(?:${SECRET_NAME.source})[\\w.-]*"?\\s*[:=]\\s*)("[^"]*"|'[^']*'|[^\\s,;}]+)`, "gi");

export class Masker {
  private readonly literals: string[];

  constructor(literals: (string | undefined)[]) {
    // Longest first, so a secret containing another is hidden whole; very short values would mask ordinary words.
    this.literals = literals.filter((s): s is string => !!s && s.length >= 6).sort((a, b) => b.length - a.length);
  }

  mask(s: string): string {
    let out = s;
    for (const l of this.literals) out = out.split(l).join("(secret)");
    // A repo URL with credentials in it (https://user:token@host/...).
    out = out.replace(/(\w+:\/\/)[^\s/@]+@/g, "$1(secret)@");
    return out.replace(SECRET_ASSIGNMENT, (m: string, key: string, value: string) => (/^["']?\$\{/.test(value) ? m : `${key}(secret)`));
  }

  /** Escaped, masked text for HTML. */
  text(v: string | number | undefined | null): string {
    if (v === undefined || v === null || v === "") return "—";
    return escapeHtml(this.mask(String(v)));
  }
}

/** A time for people: "14:03:22 UTC (12 s ago)"; the machine form goes in a <time datetime>. */
export function when(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return escapeHtml(iso);
  const ago = Math.round((now - t) / 1000);
  const rel = ago >= 0 ? `${agoText(ago)} ago` : `in ${agoText(-ago)}`;
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(iso.slice(11, 19))} UTC (${rel})</time>`;
}

function agoText(s: number): string {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A short revision, linked to its commit when the source is a known forge (GitHub, GitLab, Codeberg/Gitea). */
export function revisionLink(source: string, rev: string | undefined): string {
  if (!rev) return "—";
  const short = escapeHtml(rev.slice(0, 12));
  const base = forgeBase(source);
  if (!base) return `<code title="${escapeHtml(rev)}">${short}</code>`;
  const path = base.host === "gitlab.com" ? "/-/commit/" : "/commit/";
  return `<a href="${escapeHtml(`${base.url}${path}${rev}`)}"><code>${short}</code></a>`;
}

const FORGES = ["github.com", "gitlab.com", "codeberg.org"];

function forgeBase(source: string): { url: string; host: string } | undefined {
  // https://github.com/o/r(.git), git@github.com:o/r(.git); the source description may add " (branch main)".
  const m = /(?:https:\/\/|git@)([\w.-]+)[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?(?=[\s#@]|$)/.exec(source);
  if (!m || !FORGES.includes(m[1]!)) return undefined;
  return { url: `https://${m[1]}/${m[2]}/${m[3]}`, host: m[1]! };
}
