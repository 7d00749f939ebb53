import Database from "better-sqlite3";
import { renameSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningDaemon } from "../../agent/daemon.js";
import { githubSignature } from "../../agent/webhook-auth.js";
import type { Journal } from "../../run/journal.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { daemonHost, waitFor, type DaemonHost } from "./daemon-host.js";

/** Runs of kind apply since a run id: what the agent actually changed on the host. */
function applyRunsAfter(journal: Journal, afterId: number): number {
  return (journal.db.prepare("SELECT COUNT(*) AS n FROM runs WHERE kind = 'apply' AND id > ?").get(afterId) as { n: number }).n;
}
function lastRunId(journal: Journal): number {
  return journal.lastRun()?.id ?? 0;
}

async function hook(d: RunningDaemon, headers: Record<string, string>, body = '{"ref":"refs/heads/main"}'): Promise<number> {
  return (await fetch(`${d.url}/hooks/git`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })).status;
}
const signed = (body = '{"ref":"refs/heads/main"}') => ({ "x-hub-signature-256": githubSignature("hook-secret", body) });

const timings: Record<string, number> = {};

describe("tack daemon on the sandbox host", () => {
  let h: DaemonHost;
  let d: RunningDaemon | undefined;
  beforeAll(async () => {
    h = await daemonHost();
  });
  afterAll(async () => {
    await d?.stop();
    console.log("push-to-converged timings (ms):", JSON.stringify(timings));
    if (process.env.TACK_DAEMON_TEST_LOGS) console.log(h.logs.join("\n"));
  });

  it("converges the first commit, then a pushed commit switching the scope within the poll interval plus apply time", async () => {
    const c1 = await h.push({ owner: "docker" });
    d = await h.start({ intervalMs: 3000 });
    await waitFor("the first commit applied", async () => (await h.status(d!)).appliedRevision === c1, 120_000);
    expect(await h.servedBy()).toBe("docker");
    expect((await fetch(`${d.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);

    const c2 = await h.push({ owner: "native" });
    const t0 = Date.now();
    // Every reconcile seen between the push and native serving: a poll must be among them (only polls and hooks
    // fetch, and no hook is sent). The one that applies c2 may be a drift check that found c2 already fetched,
    // and a drift check (every 4 s here) may also follow it: with Compose v2 an apply is quick enough for both.
    const seen = new Set<string>();
    await waitFor("native through NPM", async () => {
      const s = await h.status(d!);
      // The agent keeps its last reconciles (newest first): sampling lastReconcile alone could miss one.
      for (const r of [...(s.recentReconciles ?? []), ...(s.lastReconcile ? [s.lastReconcile] : [])])
        if (Date.parse(r.at) >= t0) for (const t of r.triggers) seen.add(t);
      return s.appliedRevision === c2 && (await h.servedBy()) === "native";
    }, 120_000);
    timings.poll = Date.now() - t0;
    const st = await h.status(d);
    expect([...seen]).toContain("poll");
    // /status names the Compose in use: the sandbox's flavor (v2 unless the run asked for v1) and its version.
    const sb = sandbox({ parts: ["docker"] });
    expect(st.compose).toEqual({ flavor: sb.composeFlavor, version: sb.composeVersion });
    expect(st.desiredRevision).toBe(c2);
    const applyMs = d.journal.lastRun()!;
    expect(applyMs.status).toBe("succeeded");
    // The interval (3 s, +10% jitter) + the apply itself, with slack for fetch, checkout and planning on a loaded
    // 2-core machine, and for a drift check that may be in flight when the poll fires (it is not interrupted).
    const applyDuration = Date.parse(applyMs.finished_at!) - Date.parse(applyMs.started_at);
    timings.pollApplyRun = applyDuration;
    expect(timings.poll).toBeLessThan(3300 + applyDuration + 10_000);
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    expect(metrics).toContain(`tack_applied_revision_info{revision="${c2}"} 1`);
    expect(metrics).toMatch(/tack_cutover_total\{scope="api",from="docker",to="native",result="succeeded"\} 1/);
    expect(metrics).toMatch(/tack_scope_owner\{scope="api",owner="native"\} 1/);
  });

  it("an invalid commit leaves the host on the last good revision; /status shows file:line; it is not retried", async () => {
    const good = (await h.status(d!)).appliedRevision;
    const bad = await h.push({ broken: true });
    const st = await waitFor("the invalid revision reported", async () => {
      const s = await h.status(d!);
      return s.invalid?.revision === bad ? s : undefined;
    }, 30_000);
    expect(st.invalid!.locations.join("\n")).toMatch(/tack\.yaml:\d+:\d+ .*scopes\.api\.owner/);
    expect(st.appliedRevision).toBe(good);
    expect(d!.journal.revision(bad)?.status).toBe("invalid");
    const attempts = d!.journal.revision(bad)!.attempts;
    await d!.trigger("poll");
    await d!.trigger("poll");
    expect(d!.journal.revision(bad)!.attempts).toBe(attempts);
    expect(await h.servedBy()).toBe("native");
    expect(await (await fetch(`${d!.url}/metrics`)).text()).toMatch(/tack_reconcile_total\{result="invalid"\} 1/);
  });

  it("tack_health_up follows the owner's health check between cutovers (a failing check, no drift)", async () => {
    // The native httpd serves this file as /health: without it the unit stays active (no drift) but answers 404.
    const healthFile = path.join(h.base, "data", "www", "health");
    const gauge = async () => /tack_health_up\{scope="api"\} (\d)/.exec(await (await fetch(`${d!.url}/metrics`)).text())?.[1];
    await waitFor("api healthy", async () => (await gauge()) === "1", 30_000);
    renameSync(healthFile, `${healthFile}.away`);
    try {
      await waitFor("api unhealthy on the next drift check", async () => (await gauge()) === "0", 30_000);
      const st = await h.status(d!);
      expect(st.health.api).toMatchObject({ ok: false, detail: expect.stringMatching(/HTTP 404/) });
      expect(st.drift["systemd.unit"]).toBeUndefined();
    } finally {
      renameSync(`${healthFile}.away`, healthFile);
    }
    await waitFor("api healthy again", async () => (await gauge()) === "1", 30_000);
    expect((await h.status(d!)).health.api?.ok).toBe(true);
  });

  it("heals a hand edit of NPM's DB (forward_host) within the drift interval", async () => {
    const db = new Database(path.join(h.npmData, "database.sqlite"));
    const before = db.prepare("SELECT forward_host FROM proxy_host WHERE is_deleted = 0").get() as { forward_host: string };
    db.prepare("UPDATE proxy_host SET forward_host = '10.99.99.99' WHERE is_deleted = 0").run();
    const t0 = Date.now();
    await waitFor("forward_host healed", async () => (db.prepare("SELECT forward_host FROM proxy_host WHERE is_deleted = 0").get() as { forward_host: string }).forward_host === before.forward_host, 30_000);
    timings.driftHeal = Date.now() - t0;
    db.close();
    expect(timings.driftHeal).toBeLessThan(4000 * 1.1 + 15_000);
    await waitFor("drift gauge back to 0", async () => (await h.status(d!)).drift["npm.proxyHost"] === undefined, 15_000);
    await d!.stop();
    d = undefined;
  });

  it("webhook: a bad signature is 401; a signed push converges without waiting for the interval", async () => {
    // From here on, polls and scheduled drift checks are 10 min apart: only hooks and watchers trigger.
    await d?.stop();
    d = await h.start({ intervalMs: 10 * 60_000, driftIntervalMs: 10 * 60_000 });
    await waitFor("started", async () => (await h.status(d!)).ready, 60_000);
    expect(await hook(d, { "x-hub-signature-256": githubSignature("wrong", '{"ref":"refs/heads/main"}') })).toBe(401);
    expect(await hook(d, { "x-tack-token": "nope" })).toBe(401);
    expect(await hook(d, {})).toBe(401);
    const c = await h.push({ owner: "docker" });
    const t0 = Date.now();
    expect(await hook(d, signed())).toBe(202);
    await waitFor("docker through NPM", async () => (await h.status(d!)).appliedRevision === c && (await h.servedBy()) === "docker", 120_000);
    timings.webhook = Date.now() - t0;
    expect((await h.status(d)).lastReconcile?.triggers).toContain("webhook");
    expect(timings.webhook).toBeLessThan(60_000);
  });

  it("a hand edit of NPM's proxy_host conf is seen by the watcher and healed at once", async () => {
    const { readdir, readFile, writeFile } = await import("node:fs/promises");
    const dir = path.join(h.npmData, "nginx", "proxy_host");
    const conf = path.join(dir, (await readdir(dir)).find((f) => f.endsWith(".conf"))!);
    const good = await readFile(conf, "utf8");
    // A person's edit, not one within 300 ms of the agent's own write (those are taken for the agent's).
    await new Promise((r) => setTimeout(r, 1000));
    await writeFile(conf, good.replace(/(set \$server\s+)"[^"]*";/, '$1"10.99.99.98";'));
    const t0 = Date.now();
    await waitFor("conf healed", async () => (await readFile(conf, "utf8")) === good, 30_000);
    timings.confWatchHeal = Date.now() - t0;
    await waitFor("the drift reconcile recorded", async () => (await h.status(d!)).lastReconcile?.triggers.includes("drift"), 15_000);
    expect(await h.servedBy()).toBe("docker");
  });

  it("a hand edit of NPM's DB is seen by the watcher and healed without waiting for the drift interval", async () => {
    const db = new Database(path.join(h.npmData, "database.sqlite"));
    const row = () => db.prepare("SELECT forward_host FROM proxy_host WHERE is_deleted = 0").get() as { forward_host: string };
    const before = row();
    // A person's edit, not one within 300 ms of the agent's own write (those are taken for the agent's).
    await new Promise((r) => setTimeout(r, 1000));
    db.prepare("UPDATE proxy_host SET forward_host = '10.99.99.97' WHERE is_deleted = 0").run();
    const t0 = Date.now();
    // Drift checks are 10 min apart here: only the watcher can bring this about.
    await waitFor("forward_host healed", async () => row().forward_host === before.forward_host, 30_000);
    timings.dbWatchHeal = Date.now() - t0;
    db.close();
    await waitFor("the drift reconcile recorded", async () => (await h.status(d!)).lastReconcile?.triggers.includes("drift"), 15_000);
  });

  it("a burst of 10 webhooks (10 pushes) gives at most 2 reconciles", async () => {
    // Pushes first, then their hooks back to back: a push takes longer than this apply (a UFW comment, ~0.5 s
    // with Compose v2), so hooks sent between pushes would not arrive while one reconcile runs.
    let last = "";
    for (let i = 0; i < 10; i++) last = await h.push({ sshComment: `ssh-${i}` });
    const before = lastRunId(d!.journal);
    for (let i = 0; i < 10; i++) expect(await hook(d!, { "x-tack-token": "hook-secret" })).toBe(202);
    await waitFor("the newest revision applied", async () => (await h.status(d!)).appliedRevision === last, 120_000);
    await new Promise((r) => setTimeout(r, 1500));
    const runs = applyRunsAfter(d!.journal, before);
    timings.burstApplyRuns = runs;
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(2);
    const ufw = await h.runner.run("ufw", ["status"]);
    expect(ufw.stdout).toContain("tack: ssh-9");
  });

  it("a commit that leaves the runtimes alone is applied without observing them; the drift check owed right after still heals the runtime", async () => {
    const id = (await h.runner.run("docker", ["ps", "-q", "--filter", "label=com.docker.compose.service=api"])).stdout.trim();
    expect(id).not.toBe("");
    // Runtime drift the fast path cannot see (no watcher looks at Docker): the scope's container stopped by hand.
    await h.runner.run("docker", ["stop", id], { mutates: true });
    const c = await h.push({ sshComment: "ssh-fast" });
    expect(await hook(d!, signed())).toBe(202);
    await waitFor("the UFW-only commit applied", async () => (await h.status(d!)).appliedRevision === c, 60_000);
    expect(h.logs.find((l) => l.includes(`${c}: `) && l.includes("planned without observing them"))).toMatch(/systemd\.unit and compose\.service unchanged/);
    // Scheduled drift checks are 10 min apart here: only the check owed after the fast path brings it back.
    await waitFor("docker serves again", async () => (await h.servedBy()) === "docker", 60_000);
    expect((await h.status(d!)).recentReconciles.some((r) => r.triggers.includes("drift") && r.result === "success")).toBe(true);
  });

  it("suspend stops changes, survives a restart, and expires by itself", async () => {
    const { runCli } = await import("../../cli/program.js");
    const out: string[] = [];
    const o = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runCli(["suspend", "--for", "20s", "--reason", "hotfix by hand", "--state-dir", h.stateDir], o)).toBe(0);
    expect(out.join("\n")).toMatch(/suspended until/i);
    const applied = (await h.status(d!)).appliedRevision;
    const c = await h.push({ owner: "native" });
    await hook(d!, signed());
    await waitFor("the new head seen", async () => (await h.status(d!)).desiredRevision === c, 30_000);
    await d!.trigger("poll");
    let st = await h.status(d!);
    expect(st.suspension?.reason).toBe("hotfix by hand");
    expect(st.appliedRevision).toBe(applied);
    expect(await h.servedBy()).toBe("docker");
    expect(await (await fetch(`${d!.url}/metrics`)).text()).toMatch(/tack_suspended 1/);

    await d!.stop();
    d = await h.start({ intervalMs: 10 * 60_000, driftIntervalMs: 10 * 60_000 });
    await waitFor("started", async () => (await h.status(d!)).ready, 60_000);
    st = await h.status(d);
    expect(st.suspension?.reason).toBe("hotfix by hand");
    expect(st.appliedRevision).toBe(applied);
    expect(await h.servedBy()).toBe("docker");
    out.length = 0;
    expect(await runCli(["status", "--state-dir", h.stateDir], o)).toBe(0);
    expect(out.join("\n")).toMatch(/suspended until .*hotfix by hand/);

    const until = Date.parse(st.suspension!.until);
    await waitFor("applied after expiry", async () => (await h.status(d!)).appliedRevision === c && (await h.servedBy()) === "native", Math.max(0, until - Date.now()) + 90_000);
    timings.appliedAfterExpiryMs = Date.now() - until;
    expect((await h.status(d)).suspension).toBeUndefined();
  });

  it("SIGTERM mid-run lets the step finish, rolls back and leaves a consistent host", async () => {
    await d!.stop();
    let stopping: Promise<void> | undefined;
    const dd = await h.start({
      intervalMs: 10 * 60_000,
      beforeStep: (step) => {
        // The stop arrives while the new owner is starting: the executor finishes this step, then stops.
        if (step.phase === "runtime-start" && !stopping) stopping = dd.stop();
      },
    });
    d = dd;
    await waitFor("started", async () => (await h.status(dd)).ready, 60_000);
    const before = lastRunId(dd.journal);
    await h.push({ owner: "docker" });
    await hook(dd, signed());
    await waitFor("the stop requested", async () => stopping !== undefined, 120_000);
    await stopping;
    d = undefined;
    const { Journal } = await import("../../run/journal.js");
    const j = new Journal(h.stateDir);
    try {
      expect(j.unfinishedRuns()).toEqual([]);
      const run = j.run(before + 1)!;
      expect(run.status).toBe("rolled-back");
      expect(run.error).toMatch(/stopped by a signal/);
    } finally {
      j.close();
    }
    // One owner serves: the rollback brought native back, docker is gone.
    expect(await h.servedBy()).toBe("native");
    const ps = await h.runner.run("docker", ["ps", "--filter", "label=com.docker.compose.project=tackd", "-q"]);
    expect(ps.stdout.trim()).toBe("");
  });
});
