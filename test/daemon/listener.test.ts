import { afterEach, describe, expect, it } from "vitest";
import { startListener, parseListen, type ListenerHandlers } from "../../agent/listener.js";
import { makeSuspension } from "../../agent/suspension.js";
import { githubSignature } from "../../agent/webhook-auth.js";

const SECRET = "listener-test-secret";

function handlers(over: Partial<ListenerHandlers> = {}) {
  const calls: string[] = [];
  const h: ListenerHandlers = {
    webhookSecret: () => SECRET,
    ready: () => false,
    status: () => ({ appliedRevision: "abc" }),
    metrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "tack_suspended 0\n" }),
    gitHook: () => calls.push("hook"),
    suspend: (b) => {
      calls.push(`suspend ${b.for} ${b.reason}`);
      return makeSuspension(b.for ?? "", b.reason ?? "", b.by ?? "x");
    },
    resume: () => {
      calls.push("resume");
      return { suspended: false };
    },
    rollback: async (b) => {
      calls.push(`rollback ${b.to ?? "previous"} ${b.by ?? ""}`);
      return b.to === "nope" ? { status: 400, body: { error: "no snapshot of nope" } } : { status: 200, body: { from: "c2", to: b.to ?? "c1", status: "applied" } };
    },
    ...over,
  };
  return { h, calls };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(h: ListenerHandlers) {
  const l = await startListener("127.0.0.1:0", h, () => undefined);
  close = l.close;
  return l.url;
}

describe("the agent's listener", () => {
  it("parses --listen", () => {
    expect(parseListen("127.0.0.1:9469")).toEqual({ host: "127.0.0.1", port: 9469 });
    expect(parseListen("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(() => parseListen("9469")).toThrow(/HOST:PORT/);
  });

  it("serves healthz, readyz (503 until ready), status JSON and metrics", async () => {
    let ready = false;
    const { h } = handlers({ ready: () => ready });
    const url = await serve(h);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${url}/status`)).json()).toEqual({ appliedRevision: "abc" });
    const m = await fetch(`${url}/metrics`);
    expect(m.headers.get("content-type")).toMatch(/text\/plain/);
    expect(await m.text()).toBe("tack_suspended 0\n");
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });

  it("POST /hooks/git: 202 signed (GitHub HMAC or token), 401 otherwise; only an accepted hook triggers a fetch", async () => {
    const { h, calls } = handlers();
    const url = await serve(h);
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const post = (headers: Record<string, string>, b = body) => fetch(`${url}/hooks/git`, { method: "POST", body: b, headers });
    expect((await post({ "x-hub-signature-256": githubSignature("wrong", body) })).status).toBe(401);
    expect((await post({ "x-hub-signature-256": githubSignature(SECRET, body) }, body + "\n")).status).toBe(401);
    expect((await post({})).status).toBe(401);
    expect(calls).toEqual([]);
    expect((await post({ "x-hub-signature-256": githubSignature(SECRET, body) })).status).toBe(202);
    expect((await post({ "x-tack-token": SECRET })).status).toBe(202);
    expect(calls).toEqual(["hook", "hook"]);
  });

  it("POST /hooks/git without a configured secret is 404, never accepted", async () => {
    const { h, calls } = handlers({ webhookSecret: () => undefined });
    const url = await serve(h);
    expect((await fetch(`${url}/hooks/git`, { method: "POST", body: "{}", headers: { "x-tack-token": "" } })).status).toBe(404);
    expect(calls).toEqual([]);
  });

  it("POST /suspend and /resume from loopback; a bad duration is 400", async () => {
    const { h, calls } = handlers();
    const url = await serve(h);
    const s = await fetch(`${url}/suspend`, { method: "POST", body: JSON.stringify({ for: "2h", reason: "hotfix", by: "me" }) });
    expect(s.status).toBe(200);
    expect(((await s.json()) as { reason: string }).reason).toBe("hotfix");
    expect((await fetch(`${url}/suspend`, { method: "POST", body: JSON.stringify({ for: "soon", reason: "x" }) })).status).toBe(400);
    expect((await fetch(`${url}/suspend`, { method: "POST", body: "{not json" })).status).toBe(400);
    expect((await fetch(`${url}/resume`, { method: "POST" })).status).toBe(200);
    expect(calls).toEqual(["suspend 2h hotfix", "suspend soon x", "resume"]);
  });

  it("POST /rollback passes the handler's answer through; a bad body is 400 and reaches no handler", async () => {
    const { h, calls } = handlers();
    const url = await serve(h);
    const ok = await fetch(`${url}/rollback`, { method: "POST", body: JSON.stringify({ by: "me" }) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ from: "c2", to: "c1", status: "applied" });
    const refused = await fetch(`${url}/rollback`, { method: "POST", body: JSON.stringify({ to: "nope" }) });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: "no snapshot of nope" });
    expect((await fetch(`${url}/rollback`, { method: "POST", body: "{not json" })).status).toBe(400);
    expect((await fetch(`${url}/rollback`)).status).toBe(404);
    expect(calls).toEqual(["rollback previous me", "rollback nope "]);
  });

  it("refuses the loopback-only commands from a browser (a page on any site could post a form to 127.0.0.1)", async () => {
    const { h, calls } = handlers();
    const url = await serve(h);
    const form = { method: "POST", headers: { "content-type": "text/plain", origin: "https://evil.example" }, body: JSON.stringify({ for: "2h", reason: "x", by: "evil" }) };
    for (const route of ["/suspend", "/resume", "/rollback"]) expect((await fetch(`${url}${route}`, form)).status, route).toBe(403);
    const sameSite = await fetch(`${url}/resume`, { method: "POST", headers: { "sec-fetch-site": "same-origin" } });
    expect(sameSite.status).toBe(403);
    expect(calls).toEqual([]);
  });
});
