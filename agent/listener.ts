import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { UserError } from "../core/errors.js";
import { serveUi, type UiHandlers } from "./ui/ui-routes.js";
import { verifyWebhook } from "./webhook-auth.js";

/**
 * The agent's HTTP listener (node:http): the status page (/, /events, /ui/*), /healthz, /readyz, /status,
 * /metrics, POST /hooks/git, and the loopback-only POST /suspend, /resume and /rollback that
 * `tack suspend|resume|rollback` use.
 */
export interface ListenerHandlers {
  ready(): boolean;
  status(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** A verified webhook: fetch now. */
  gitHook(): void;
  /** Read at each webhook: the file may be a secret tack writes (and rotates) after the agent started. */
  webhookSecret: () => string | undefined;
  suspend(body: { for?: string; reason?: string; by?: string }): unknown;
  resume(by: string | undefined): unknown;
  /** `tack rollback` through the agent: runs between two reconciles; resolves with the HTTP answer. */
  rollback(body: { to?: string; by?: string }): Promise<{ status: number; body: unknown }>;
  /** The status page; without it / is a 404. */
  ui?: UiHandlers;
}

const MAX_BODY = 1024 * 1024; // GitHub caps push payloads at 25 MB; a tack hook needs none of it

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  if (!m) throw new UserError(`--listen ${listen}: expected HOST:PORT (e.g. 127.0.0.1:9469)`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port: Number(m[3]) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, code: number, body: unknown, contentType = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body, null, 2) + "\n";
  res.writeHead(code, { "content-type": contentType, "cache-control": "no-store" });
  res.end(text);
}

function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? "";
  return a === "127.0.0.1" || a === "::1" || a === "::ffff:127.0.0.1";
}

/**
 * A browser on the host could post a plain form to the loopback listener from any web page (a "simple" request
 * needs no CORS preflight). Browsers always say where a POST comes from (Origin, Sec-Fetch-Site); the CLI never does.
 */
function fromBrowser(req: IncomingMessage): boolean {
  return req.headers.origin !== undefined || req.headers["sec-fetch-site"] !== undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function handle(h: ListenerHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://tack");
  const route = `${req.method} ${url.pathname}`;
  if (h.ui && serveUi(h.ui, req, res, url)) return;
  switch (route) {
    case "GET /healthz":
      return send(res, 200, "ok\n", "text/plain");
    case "GET /readyz":
      return h.ready() ? send(res, 200, "ready\n", "text/plain") : send(res, 503, "not ready\n", "text/plain");
    case "GET /status":
      return send(res, 200, h.status());
    case "GET /metrics": {
      const m = await h.metrics();
      return send(res, 200, m.body, m.contentType);
    }
    case "POST /hooks/git": {
      const body = await readBody(req);
      const secret = h.webhookSecret();
      if (!secret) return send(res, 404, { error: "no webhook secret configured (--webhook-secret-file), or its file is not there yet" });
      const verdict = verifyWebhook(secret, body, { signature256: header(req, "x-hub-signature-256"), token: header(req, "x-tack-token") });
      if (verdict !== "accepted") return send(res, 401, { error: "bad or missing signature" });
      h.gitHook();
      return send(res, 202, { accepted: true });
    }
    case "POST /suspend":
    case "POST /resume": {
      if (!isLoopback(req)) return send(res, 403, { error: "only from loopback" });
      if (fromBrowser(req)) return send(res, 403, { error: "not from a browser: use tack suspend / tack resume" });
      const raw = (await readBody(req)).toString("utf8");
      let body: Record<string, string> = {};
      try {
        if (raw.trim()) body = JSON.parse(raw) as Record<string, string>;
      } catch {
        return send(res, 400, { error: "the body must be JSON" });
      }
      try {
        return send(res, 200, route === "POST /suspend" ? h.suspend(body) : h.resume(body.by));
      } catch (err) {
        if (err instanceof UserError) return send(res, 400, { error: err.message });
        throw err;
      }
    }
    case "POST /rollback": {
      if (!isLoopback(req)) return send(res, 403, { error: "only from loopback" });
      if (fromBrowser(req)) return send(res, 403, { error: "not from a browser: use tack rollback" });
      let body: { to?: string; by?: string } = {};
      try {
        const raw = (await readBody(req)).toString("utf8");
        if (raw.trim()) body = JSON.parse(raw) as { to?: string; by?: string };
      } catch {
        return send(res, 400, { error: "the body must be JSON" });
      }
      const answer = await h.rollback(body);
      return send(res, answer.status, answer.body);
    }
    default:
      return send(res, 404, { error: `no route ${route}` });
  }
}

export async function startListener(listen: string, h: ListenerHandlers, onError: (err: unknown) => void): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    handle(h, req, res).catch((err: unknown) => {
      onError(err);
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
