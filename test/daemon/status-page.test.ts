import { afterEach, describe, expect, it } from "vitest";
import { startListener, type ListenerHandlers } from "../../agent/listener.js";
import { AgentStatus, type DaemonStatus } from "../../agent/status.js";
import { Masker, revisionLink } from "../../agent/ui/html.js";
import { renderPage, sectionsEvent } from "../../agent/ui/page.js";
import { readUiToken, requireUiToken } from "../../agent/ui/ui-access.js";
import type { UiHandlers } from "../../agent/ui/ui-routes.js";
import { startDaemon } from "../../agent/daemon.js";
import { statusPage } from "../../agent/ui/status-page.js";
import type { ResolvedHost } from "../../core/resources.js";
import type { Journal } from "../../run/journal.js";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import path from "node:path";

const TOKEN = "ui-token-0123456789abcdef";
const CF_TOKEN = "cf-token-SHOULD-NEVER-SHOW";

function status(): AgentStatus {
  const s = new AgentStatus({ host: "h1", source: "https://github.com/acme/infra.git branch main", appliedRevision: "a".repeat(40), lastRun: undefined, suspension: undefined }, () => ({
    suspension: { until: "2099-01-01T00:00:00.000Z", reason: "maintenance <b>window</b>", by: "ops@h1", at: "2026-01-01T00:00:00.000Z" },
    flapping: [],
    lastRun: undefined,
  }));
  s.topology({
    scopes: [{ name: "api", desiredOwner: "native", observedOwner: "docker", observedBy: "probe", handoff: "exclusive", units: ["api.service"], services: ["p/api"], port: 4000 }],
    edge: [{ hostname: "api.example.org", scope: "api", upstream: "http://172.18.0.1:4000", enabled: true, bridgeRule: "allow in tcp 4000 from 172.18.0.0/16 to any", dns: { type: "A", content: "203.0.113.7", proxied: true } }],
  });
  s.markInvalid({ revision: "b".repeat(40), message: "scopes.api.owner: expected native|docker|none", locations: ["tack.yaml:12:12 error scopes.api.owner <script>alert(1)</script>"] });
  s.reconciled({ at: "2026-01-01T00:00:30.000Z", triggers: ["webhook"], result: "rolled-back", revision: "c".repeat(40), durationMs: 1234, runId: 7 }, undefined);
  s.failed(`apply failed: DB_PASSWORD=hunter2hunter2 and token ${CF_TOKEN}`);
  return s;
}

const data = (s: AgentStatus) => ({ status: s.snapshot(), steps: {}, now: Date.parse("2026-01-01T00:01:00.000Z") });
const masker = new Masker([TOKEN, CF_TOKEN]);

describe("the status page", () => {
  it("renders every section, escaped, with no secret in it", () => {
    const html = renderPage(data(status()), masker);
    for (const id of ["summary", "suspension", "problems", "scopes", "edge", "drift", "runs"]) expect(html).toContain(`<section id="${id}"`);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("maintenance &lt;b&gt;window&lt;/b&gt;");
    expect(html).toContain("tack.yaml:12:12");
    expect(html).toMatch(/data-desired="native"/);
    expect(html).toMatch(/data-owner="docker"/);
    expect(html).toContain("proxied");
    expect(html).toMatch(/Recent reconciles[\s\S]*webhook[\s\S]*rolled-back[\s\S]*1\.2 s/);
    for (const secret of [TOKEN, CF_TOKEN, "hunter2hunter2"]) expect(html).not.toContain(secret);
    expect(html).toContain("DB_PASSWORD=(secret)");
    // No inline script: the CSP allows only /ui/page.js.
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/ui/page.js" defer>']);
  });

  it("shows the plan of a failed revision with its findings, and the host's own word on each route", () => {
    const s = status();
    s.planned({
      revision: "c".repeat(40),
      state: "failed",
      changes: ["firewall-open: UFW allow 4000/tcp from npm-bridge", "runtime-start: install, enable and start api.service", "health: gate api on native"],
      findings: ["tack.yaml:40:7 warning origin-exposure: api.example.org is DNS-only and points at 203.0.113.7"],
    });
    s.topology({
      scopes: s.fields.scopes,
      edge: [{ ...s.fields.edge[0]!, live: { bridgeOpen: false, dns: { type: "A", content: "203.0.113.9", proxied: false } } }],
    });
    const html = renderPage(data(s), masker);
    expect(html).toMatch(/Failed<\/span> plan of/);
    expect(html).toContain("3 step(s), in the order the agent runs them");
    expect(html).toContain("runtime-start: install, enable and start api.service");
    expect(html).toContain("tack.yaml:40:7 warning origin-exposure");
    expect(html).toContain("the bridge is blocked in UFW");
    expect(html).toContain("Cloudflare has 203.0.113.9, DNS-only");
  });

  it("links revisions to the commit on a known forge only", () => {
    expect(revisionLink("https://github.com/acme/infra.git branch main", "c".repeat(40))).toContain(`href="https://github.com/acme/infra/commit/${"c".repeat(40)}"`);
    expect(revisionLink("git@gitlab.com:acme/infra.git branch main", "c".repeat(40))).toContain("https://gitlab.com/acme/infra/-/commit/");
    expect(revisionLink("/srv/infra.git branch main", "c".repeat(40))).not.toContain("href");
  });

  it("masks credentials in a repo URL and keeps ${VAR} references", () => {
    expect(masker.mask("https://bot:ghp_abc123@github.com/acme/infra.git")).toBe("https://(secret)@github.com/acme/infra.git");
    expect(masker.mask("API_KEY=${API_KEY}")).toBe("API_KEY=${API_KEY}");
  });

  it("an SSE event carries the sections as JSON", () => {
    const ev = sectionsEvent(data(status()), masker);
    expect(ev).toMatch(/^event: sections\ndata: /);
    const payload = JSON.parse(ev.split("\n")[1]!.slice(6)) as { sections: string[] };
    expect(payload.sections).toHaveLength(7);
  });
});

describe("the agent's own secrets", () => {
  it("never shows the Cloudflare token the desired state points at, nor the webhook secret or UI token", () => {
    const s = status();
    s.failed(`cloudflare said 403 for cf-live-token-abcdef123456 (webhook ${"w".repeat(20)}, ui ${TOKEN})`);
    const journal = { steps: () => [] } as unknown as Journal;
    const page = statusPage({
      status: s,
      journal,
      uiToken: TOKEN,
      webhookSecret: () => "w".repeat(20),
      lastHost: () => ({ cloudflare: { zone: "example.org", token: { env: "CF_TOKEN_FOR_TEST" } } }) as unknown as ResolvedHost,
      env: { CF_TOKEN_FOR_TEST: "cf-live-token-abcdef123456" },
    });
    const html = page.page() + page.event();
    for (const secret of ["cf-live-token-abcdef123456", "w".repeat(20), TOKEN]) expect(html).not.toContain(secret);
    expect(html).toContain("cloudflare said 403 for (secret)");
  });
});

describe("access to the page", () => {
  it("refuses a non-loopback listener without a token", () => {
    expect(() => requireUiToken("0.0.0.0", undefined)).toThrow(/--ui-token-file/);
    expect(() => requireUiToken("192.168.1.5", undefined)).toThrow(/--ui-token-file/);
    expect(() => requireUiToken("0.0.0.0", TOKEN)).not.toThrow();
    expect(() => requireUiToken("127.0.0.1", undefined)).not.toThrow();
    expect(() => requireUiToken("::1", undefined)).not.toThrow();
  });

  it("the agent refuses to start on a non-loopback listener without --ui-token-file, before it takes the state lock", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "ui-refuse-"));
    await expect(startDaemon({ repo: stateDir, stateDir, listen: "0.0.0.0:0", log: () => undefined })).rejects.toThrow(/--ui-token-file/);
    expect(existsSync(path.join(stateDir, "tack.lock"))).toBe(false);
  });

  it("reads a token file and rejects a short or missing one", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ui-token-"));
    writeFileSync(path.join(dir, "ok"), `${TOKEN}\n`);
    writeFileSync(path.join(dir, "short"), "abc\n");
    expect(readUiToken(path.join(dir, "ok"))).toBe(TOKEN);
    expect(() => readUiToken(path.join(dir, "short"))).toThrow(/at least 16/);
    expect(() => readUiToken(path.join(dir, "none"))).toThrow(/ENOENT/);
  });
});

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(token: string | undefined, s: AgentStatus): Promise<string> {
  const ui: UiHandlers = {
    token,
    page: () => renderPage(data(s), masker),
    event: () => sectionsEvent(data(s), masker),
    subscribe: (changed) => s.subscribe(() => changed()),
  };
  const h = { webhookSecret: () => undefined, ready: () => true, status: () => s.snapshot(), ui } as unknown as ListenerHandlers;
  const l = await startListener("127.0.0.1:0", h, () => undefined);
  close = l.close;
  return l.url;
}

describe("the page on the listener", () => {
  it("sends the security headers and serves the script as a file", async () => {
    const url = await serve(undefined, status());
    const r = await fetch(`${url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(r.headers.get("content-security-policy")).not.toMatch(/unsafe-inline/);
    expect(r.headers.get("x-frame-options")).toBe("DENY");
    expect(r.headers.get("referrer-policy")).toBe("no-referrer");
    const js = await fetch(`${url}/ui/page.js`);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect(await js.text()).toContain("EventSource");
    expect((await fetch(`${url}/ui/../status`)).status).not.toBe(500);
    expect((await fetch(`${url}/ui/nope.js`)).status).toBe(404);
    expect(((await (await fetch(`${url}/status`)).json()) as DaemonStatus).scopes[0]!.name).toBe("api");
  });

  it("without a token, answers to loopback names only (a reverse proxy or DNS rebinding gets 403)", async () => {
    const url = await serve(undefined, status());
    const port = new URL(url).port;
    const get = (host: string) => new Promise<number>((resolve, reject) => {
      http.get({ host: "127.0.0.1", port, path: "/", headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on("error", reject);
    });
    expect(await get(`127.0.0.1:${port}`)).toBe(200);
    expect(await get(`localhost:${port}`)).toBe(200);
    expect(await get(`[::1]:${port}`)).toBe(200);
    expect(await get("tack.example.org")).toBe(403);
    expect(await get("evil.example:80")).toBe(403);
  });

  it("with a token: 401 without it, bearer works, ?token= sets a cookie once and redirects without it", async () => {
    const url = await serve(TOKEN, status());
    expect((await fetch(`${url}/`)).status).toBe(401);
    expect((await fetch(`${url}/`, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status).toBe(401);
    expect((await fetch(`${url}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const r = await fetch(`${url}/?token=${TOKEN}`, { redirect: "manual" });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/");
    const cookie = r.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await fetch(`${url}/`, { headers: { cookie: cookie.split(";")[0]! } })).status).toBe(200);
    expect((await fetch(`${url}/events`)).status).toBe(401);
  });

  it("streams one event at connect and one per status change", async () => {
    const s = status();
    const url = await serve(undefined, s);
    const ctl = new AbortController();
    const r = await fetch(`${url}/events`, { signal: ctl.signal });
    expect(r.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = r.body!.getReader();
    let text = "";
    const events = () => text.split("event: sections").length - 1;
    while (events() < 1) text += new TextDecoder().decode((await reader.read()).value);
    s.topology({ scopes: [{ ...s.fields.scopes[0]!, observedOwner: "native" }], edge: s.fields.edge });
    while (events() < 2) text += new TextDecoder().decode((await reader.read()).value);
    expect(text.split("event: sections")[2]).toContain('data-owner=\\"native\\"');
    ctl.abort();
  });
});
