import type { IncomingMessage, ServerResponse } from "node:http";
import { asset, PAGE_HEADERS } from "./page.js";
import { checkAccess } from "./ui-access.js";

/**
 * The status page's routes on the agent's listener: GET / (the page), GET /events (server-sent events, one per
 * status change) and GET /ui/page.js|page.css. All behind checkAccess; all with the page's security headers.
 */
export interface UiHandlers {
  /** Undefined on a loopback listener: no token asked. */
  token: string | undefined;
  page(): string;
  /** The current sections as one SSE event. */
  event(): string;
  /** Hear of each status change; returns the unsubscribe. */
  subscribe(changed: () => void): () => void;
}

/** SSE comment lines keep idle proxies and browsers from dropping the stream. */
const KEEPALIVE_MS = 25_000;

/** Serves a UI route; false when the route is not one of the page's. */
export function serveUi(ui: UiHandlers, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const isAsset = url.pathname.startsWith("/ui/");
  if (req.method !== "GET" || !(url.pathname === "/" || url.pathname === "/events" || isAsset)) return false;
  const access = checkAccess(req, url, ui.token);
  if ("redirect" in access) {
    res.writeHead(303, { ...PAGE_HEADERS, location: access.redirect, "set-cookie": access.setCookie });
    res.end();
    return true;
  }
  if (!access.ok) {
    res.writeHead(ui.token ? 401 : 403, { ...PAGE_HEADERS, "content-type": "text/plain; charset=utf-8", ...(ui.token ? { "www-authenticate": 'Bearer realm="tack"' } : {}) });
    res.end(`${ui.token ? 401 : 403}: ${access.why}\n`);
    return true;
  }
  if (isAsset) {
    const a = asset(url.pathname.slice(4));
    res.writeHead(a ? 200 : 404, { ...PAGE_HEADERS, "content-type": a?.contentType ?? "text/plain" });
    res.end(a?.body ?? "no such asset\n");
  } else if (url.pathname === "/") {
    res.writeHead(200, { ...PAGE_HEADERS, "content-type": "text/html; charset=utf-8" });
    res.end(ui.page());
  } else streamEvents(ui, req, res);
  return true;
}

function streamEvents(ui: UiHandlers, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { ...PAGE_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
  res.write(`retry: 2000\n\n${ui.event()}`);
  const unsubscribe = ui.subscribe(() => res.write(ui.event()));
  const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
  keepalive.unref();
  const done = () => {
    clearInterval(keepalive);
    unsubscribe();
  };
  req.on("close", done);
  res.on("error", done);
}
