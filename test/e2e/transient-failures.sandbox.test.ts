import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type RunningDaemon } from "../../agent/daemon.js";
import { runCli } from "../../cli/program.js";
import { HostError } from "../../core/errors.js";
import { islandflowHost, type IslandflowHost } from "../../sandbox/islandflow-host.js";

/**
 * Everyday failures that are not the revision's fault (issue: reliability on real hosts): a Cloudflare 429 and then
 * 5xx for longer than the retry budget, and a token that is not there. The revision is never condemned: the CLI's
 * next run and the agent by itself converge the same commit, and no runtime is stopped or started on the way.
 */

function capture() {
  const lines: string[] = [];
  return { o: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) }, text: () => lines.join("\n") };
}

async function runtimeState(h: IslandflowHost): Promise<string> {
  const containers = await h.runner.run("docker", ["ps", "--filter", "label=com.docker.compose.project=islandflow", "--format", "{{.ID}} {{.Status}}"]);
  const units = await h.runner.run("systemctl", ["--user", "list-units", "--state=active", "--no-legend", "--plain", "islandflow-*"]);
  // Container IDs and "Up N seconds" change when a container is recreated or restarted.
  return `${containers.stdout.split("\n").map((l) => l.replace(/Up .*/, "Up")).sort().join("\n")}\n${units.stdout}`;
}

const apiRecord = (h: IslandflowHost) => h.cf.records("example.org").find((r) => r.name === "api.flow.example.org");

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("transient failures and host problems never condemn a revision", () => {
  let h: IslandflowHost;
  let daemon: RunningDaemon | undefined;
  const budget = process.env.TACK_RETRY_BUDGET_MS;
  beforeAll(async () => {
    h = await islandflowHost();
    // A short retry budget within a step, so "longer than the budget" is a few seconds here.
    process.env.TACK_RETRY_BUDGET_MS = "2000";
    const out = await h.apply();
    expect(out.status, out.error).toBe("applied");
  });
  afterAll(async () => {
    await daemon?.stop();
    if (budget === undefined) delete process.env.TACK_RETRY_BUDGET_MS;
    else process.env.TACK_RETRY_BUDGET_MS = budget;
    await h?.close();
  });

  it("tack apply: a 429 and then 5xx beyond the budget fail the run without touching runtimes; the next run converges", async () => {
    await h.edit("proxied: false, acknowledge: [origin-exposure]", "proxied: true, acknowledge: [origin-exposure]");
    const before = await runtimeState(h);
    const seeded = h.cf.records("example.org").map(({ type, name, content, ttl, proxied, comment }) => ({ type, name, content, ttl, proxied, comment }));
    await h.plan(); // the DNS observation is cached (as between an agent's polls): the faults hit the apply's batch call
    h.cf.inject429(1, 1);
    h.cf.inject5xx(200, 503);
    const first = capture();
    const code = await runCli(["apply", h.repo, "--yes", "--state-dir", h.stateDir], first.o);
    expect(code, first.text()).toBe(1);
    expect(first.text()).toMatch(/stopped \(a transient failure\): .*Cloudflare server error \(HTTP 503/);
    expect(first.text()).toMatch(/not marked bad/);
    expect(h.cf.log.some((e) => e.status === 429)).toBe(true);
    expect(apiRecord(h)?.proxied).toBe(false);
    expect(await runtimeState(h)).toBe(before);
    expect(h.journal.lastRun()?.status).toBe("failed-transient");
    const revision = h.journal.lastRun()!.revision;
    expect(h.journal.revision(revision)?.status).not.toBe("failed");

    h.cf.reset(); // the API answers again (reset also forgets the zone's records: put them back as they were)
    h.cf.seed("example.org", seeded);
    const second = capture();
    expect(await runCli(["apply", h.repo, "--yes", "--state-dir", h.stateDir], second.o), second.text()).toBe(0);
    expect(apiRecord(h)?.proxied).toBe(true);
    expect(h.journal.revision(revision)?.status).toBe("good");
    expect(await runtimeState(h)).toBe(before);
  });

  it("a missing token variable stops the run as a host problem, never as an invalid commit", async () => {
    const err = await h.apply({ env: { ...process.env, CLOUDFLARE_API_TOKEN: "" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(String(err)).toMatch(/environment variable CLOUDFLARE_API_TOKEN is not set/);
  });

  it("the agent: stalled while the token file is missing, then converges the same commit by itself once the API answers", async () => {
    h.journal.close(); // the agent opens the state dir itself
    const tokenFile = path.join(h.stateDir, "..", "cf-token");
    await h.edit("token: { env: CLOUDFLARE_API_TOKEN }", `token: { file: ${tokenFile} }`);
    await h.edit("proxied: true, acknowledge: [origin-exposure]", "proxied: false, acknowledge: [origin-exposure]");
    const before = await runtimeState(h);
    daemon = await startDaemon({ repo: h.repo, stateDir: h.stateDir, listen: "127.0.0.1:0", intervalMs: 60_000, driftIntervalMs: 60_000, retryBackoff: { initialMs: 500, maxMs: 2_000 }, log: () => undefined });
    const stalled = await until("Stalled", () => daemon!.status().stalled);
    expect(stalled.message).toMatch(/cannot read file .*cf-token/);
    expect(daemon.status().conditions.find((c) => c.type === "Stalled")).toMatchObject({ status: "True", reason: "HostProblem" });
    expect(await daemon.metrics.registry.getSingleMetricAsString("tack_stalled")).toMatch(/^tack_stalled 1$/m);
    expect(daemon.status().invalid).toBeUndefined();

    // The host is fixed, but Cloudflare now throttles and fails for a while: the agent keeps trying, unprompted.
    h.cf.inject429(2, 1);
    h.cf.inject5xx(40, 502);
    await writeFile(tokenFile, (process.env.CLOUDFLARE_API_TOKEN ?? "") + "\n");
    await until("the transient failure", () => daemon!.status().lastReconcile?.result === "transient");
    await until("api DNS-only again", () => apiRecord(h)?.proxied === false, 180_000);
    await until("Ready", () => daemon!.status().conditions.find((c) => c.type === "Ready" && c.status === "True"));
    const s = daemon.status();
    expect(s.stalled).toBeUndefined();
    expect(s.retry).toBeUndefined();
    expect(s.appliedRevision).toBe(s.desiredRevision);
    expect(await daemon.metrics.registry.getSingleMetricAsString("tack_stalled")).toMatch(/^tack_stalled 0$/m);
    expect(await runtimeState(h)).toBe(before);
  });
});
