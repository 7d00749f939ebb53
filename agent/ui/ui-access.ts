import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { UserError } from "../../core/errors.js";

/**
 * Who may see the status page. On a loopback listener anyone on the host may (as with /status). On any other
 * address the agent needs --ui-token-file and refuses to start without it; the page then wants the token as a
 * bearer header, or a cookie that `?token=` sets once (the redirect drops it from the address bar and history).
 */
export const UI_COOKIE = "tack_ui";
const MIN_TOKEN_LENGTH = 16;

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::ffff:127.0.0.1";
}

export function readUiToken(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new UserError(`--ui-token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (token.length < MIN_TOKEN_LENGTH) throw new UserError(`--ui-token-file ${file}: the token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 24)`);
  if (/\s/.test(token)) throw new UserError(`--ui-token-file ${file}: the token must be one line without spaces`);
  return token;
}

/** The listener's address decides: a non-loopback one without a token is refused before anything starts. */
export function requireUiToken(listenHost: string, token: string | undefined): void {
  if (!token && !isLoopbackHost(listenHost)) {
    throw new UserError(`--listen ${listenHost}: the status page would be open to the network; pass --ui-token-file FILE (a bearer token), or listen on 127.0.0.1`);
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

export type Access = { ok: true } | { ok: false; why: string } | { redirect: string; setCookie: string };

/** The Host header's name, without port or IPv6 brackets. */
function hostOf(req: IncomingMessage): string {
  const h = req.headers.host ?? "";
  return h.startsWith("[") ? h.slice(1, h.indexOf("]")) : h.replace(/:\d+$/, "");
}

export function checkAccess(req: IncomingMessage, url: URL, token: string | undefined): Access {
  // Without a token the page is for this host only: a page asked for by another name is a reverse proxy that
  // exposes it, or DNS rebinding (a web page whose name now points at 127.0.0.1).
  if (!token) return isLoopbackHost(hostOf(req)) ? { ok: true } : { ok: false, why: `asked for as ${hostOf(req) || "(no Host)"}: without --ui-token-file the page answers to 127.0.0.1, ::1 and localhost only` };
  const auth = req.headers.authorization ?? "";
  if (auth.startsWith("Bearer ") && same(auth.slice(7).trim(), token)) return { ok: true };
  const cookie = cookieOf(req, UI_COOKIE);
  if (cookie !== undefined && same(cookie, token)) return { ok: true };
  const q = url.searchParams.get("token");
  if (q !== null && same(q, token)) {
    url.searchParams.delete("token");
    return { redirect: `${url.pathname}${url.search}`, setCookie: `${UI_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/` };
  }
  return { ok: false, why: "this page wants the token of --ui-token-file (Authorization: Bearer, or open /?token=… once)" };
}
