import { readFileSync } from "node:fs";
import { escapeHtml, type Masker } from "./html.js";
import { renderSections, type PageData } from "./sections.js";

/**
 * The status page (GET /): one server-rendered HTML document, readable with JavaScript off; /ui/page.js then
 * follows /events and swaps the sections whose HTML changed. Its assets are files served by the agent itself
 * (the host may have no internet; the CSP allows no inline script).
 */
export const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
};

export function renderPage(d: PageData, m: Masker): string {
  const title = `tack · ${d.status.host ?? "host"}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${m.text(title)}</title>
<link rel="stylesheet" href="/ui/page.css">
<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">
<script src="/ui/page.js" defer></script>
</head>
<body>
<header><h1>${escapeHtml("tack")} <span class="sub">status of ${m.text(d.status.host ?? "this host")}</span></h1>
<p class="live" id="live" role="status" aria-live="polite">Rendered ${escapeHtml(new Date(d.now).toISOString().slice(11, 19))} UTC; reload for news.</p></header>
<main>
${renderSections(d, m).join("\n")}
</main>
<footer><p>Read-only. Actions stay on the CLI: <code>tack suspend</code>, <code>tack resume</code>, <code>tack rollback</code>. JSON at <a href="/status">/status</a>, metrics at <a href="/metrics">/metrics</a>.</p></footer>
</body>
</html>
`;
}

/** One server-sent event: the sections as rendered now (the browser compares and swaps). */
export function sectionsEvent(d: PageData, m: Masker): string {
  return `event: sections\ndata: ${JSON.stringify({ at: new Date(d.now).toISOString(), sections: renderSections(d, m) })}\n\n`;
}

// The icon too: without one the browser asks for /favicon.ico and logs the 404 as an error.
const ASSETS: Record<string, string> = { "page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml" };
const assetCache = new Map<string, string>();

/** /ui/<name>: the page's script, stylesheet and icon, read once from agent/ui/assets. */
export function asset(name: string): { contentType: string; body: string } | undefined {
  const contentType = ASSETS[name];
  if (!contentType) return undefined;
  let body = assetCache.get(name);
  if (body === undefined) {
    body = readFileSync(new URL(`./assets/${name}`, import.meta.url), "utf8");
    assetCache.set(name, body);
  }
  return { contentType, body };
}
