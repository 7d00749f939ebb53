import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { waitFor } from "../daemon/daemon-host.js";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type RunningDaemon } from "../../agent/daemon.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { dashboardQueries } from "./dashboard-queries.js";
import { startPrometheus, type PrometheusServer } from "./prometheus-server.js";

/**
 * A real Prometheus scraping a running agent (`startDaemon`, as `tack daemon` runs it) on the sandbox host:
 * the contract series exist, drift appears and is healed in Prometheus, failures and cutovers move their
 * series, every dashboard query and alert rule evaluates against the real data.
 */
const PORT = 14190;
const UNIT = "tackmon-api.service";
const ALERTS = path.resolve(import.meta.dirname, "../../monitoring/alerts.yaml");

function tackYaml(owner: string): string {
  return `apiVersion: tack/v1
kind: Host
metadata: { name: prom-1 }
runtimes:
  native: { systemd: { scope: user } }
scopes:
  api:
    owner: ${owner}
    handoff: exclusive
    native: { units: [${UNIT}], port: ${PORT} }
    health: { http: "http://127.0.0.1:${PORT}/health", timeout: 30s }
firewall:
  ufw:
    rules:
      - { allow: tcp, port: 22, comment: ssh }
      - { allow: tcp, port: ${PORT}, comment: api }
policy:
  mode: enforce
  drift: { interval: 1s }
`;
}

function unitFile(www: string): string {
  return `[Unit]
Description=tack monitoring test api

[Service]
Type=simple
ExecStart=/bin/busybox httpd -f -p 127.0.0.1:${PORT} -h ${www}

[Install]
WantedBy=default.target
`;
}

function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  return waitFor(what, probe, timeoutMs, 250);
}

const CONTRACT = [
  "tack_reconcile_total",
  "tack_reconcile_duration_seconds_count",
  "tack_drift_resources",
  "tack_last_success_timestamp_seconds",
  "tack_last_reconcile_failed",
  "tack_desired_revision_info",
  "tack_applied_revision_info",
  "tack_scope_owner",
  "tack_health_up",
  "tack_rollback_total",
  "tack_git_fetch_errors_total",
  "tack_suspended",
];

const timings: Record<string, number> = {};

describe("Prometheus scraping the tack agent (sandbox host)", () => {
  let repo: string;
  let d: RunningDaemon | undefined;
  let prom: PrometheusServer | undefined;
  const logs: string[] = [];

  beforeAll(async () => {
    const sb = sandbox({ parts: ["systemd", "ufw"] });
    const base = await mkdtemp(path.join(sb.dir, "monitoring-"));
    repo = path.join(base, "repo");
    const www = path.join(base, "www");
    await mkdir(path.join(repo, "units"), { recursive: true });
    await mkdir(www, { recursive: true });
    await writeFile(path.join(www, "health"), "ok\n");
    await writeFile(path.join(repo, "units", UNIT), unitFile(www));
    await writeFile(path.join(repo, "tack.yaml"), tackYaml("native"));
    let t = Date.now();
    d = await startDaemon({
      repo,
      stateDir: path.join(base, "state"),
      listen: "127.0.0.1:0",
      intervalMs: 2000,
      driftIntervalMs: 1000,
      watchDebounceMs: 300,
      log: (l) => logs.push(`${new Date().toISOString()} ${l}`),
    });
    timings.agentStart = Date.now() - t;
    t = Date.now();
    prom = await startPrometheus({ dir: path.join(base, "prometheus"), targets: [new URL(d.url).host], ruleFiles: [ALERTS] });
    timings.prometheusReady = Date.now() - t;
  });

  afterAll(async () => {
    await prom?.close();
    await d?.stop();
    console.log("monitoring sandbox timings (ms):", JSON.stringify(timings));
    if (process.env.TACK_MONITORING_TEST_LOGS) console.log(logs.join("\n"), await prom?.log());
  });

  it("scrapes every contract series and the process metrics once the first revision is applied", async () => {
    const p = prom!;
    const t = Date.now();
    const applied = await until("the first revision applied", async () => d!.status().appliedRevision, 90_000);
    await until("the applied revision in Prometheus", async () => (await p.query(`tack_applied_revision_info{job="tack",revision="${applied}"} == 1`)).length === 1);
    timings.firstApplyVisible = Date.now() - t;
    expect(await p.value('up{job="tack"}')).toBe(1);
    for (const name of CONTRACT) expect((await p.query(`${name}{job="tack"}`)).length, name).toBeGreaterThan(0);
    expect(await p.query('tack_desired_revision_info{job="tack"}')).toEqual([expect.objectContaining({ metric: expect.objectContaining({ revision: applied }) })]);
    expect(await p.value('tack_scope_owner{job="tack",scope="api",owner="native"}')).toBe(1);
    expect(await p.value('tack_health_up{job="tack",scope="api"}')).toBe(1);
    expect(await p.value('tack_last_reconcile_failed{job="tack"}')).toBe(0);
    expect(await p.value('time() - tack_last_success_timestamp_seconds{job="tack"}')).toBeLessThan(120);
    expect(await p.value('sum(tack_reconcile_total{job="tack",result=~"success|no-changes"})')).toBeGreaterThanOrEqual(1);
    // tack_cutover_total has no series before a cutover; Prometheus still knows it from its TYPE line.
    const meta = await p.metadata();
    expect(meta.tack_cutover_total?.[0]?.type).toBe("counter");
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes"]) {
      expect(await p.value(`${name}{job="tack"}`), name).toBeGreaterThan(0);
    }
  });

  it("shows drift per kind while suspended, and back at zero once resumed and healed", async () => {
    const p = prom!;
    const post = (route: string, body: object) => fetch(`${d!.url}${route}`, { method: "POST", body: JSON.stringify(body) });
    expect((await post("/suspend", { for: "10m", reason: "monitoring test", by: "test" })).status).toBe(200);
    await until("suspended in Prometheus", async () => (await p.value('tack_suspended{job="tack"}')) === 1);

    // Drift by hand: stop the unit, delete the UFW rule (both in the sandbox's private namespaces).
    await execa("systemctl", ["--user", "stop", UNIT]);
    await execa("ufw", ["delete", "allow", "proto", "tcp", "to", "any", "port", String(PORT)]);
    let t = Date.now();
    await until("drift of both kinds in Prometheus", async () => {
      const unit = await p.value('tack_drift_resources{job="tack",kind="systemd.unit"}');
      const rule = await p.value('tack_drift_resources{job="tack",kind="ufw.rule"}');
      return unit !== undefined && unit >= 1 && rule !== undefined && rule >= 1;
    });
    timings.driftVisible = Date.now() - t;
    expect(await p.value('tack_drift_resources{job="tack",kind="npm.proxyHost"}')).toBe(0);
    // Suspended: the drift is reported, not healed.
    expect((await execa("systemctl", ["--user", "is-active", UNIT], { reject: false })).stdout.trim()).not.toBe("active");

    expect((await post("/resume", { by: "test" })).status).toBe(200);
    t = Date.now();
    await until("drift healed in Prometheus", async () => (await p.value('sum(tack_drift_resources{job="tack"})')) === 0 && (await p.value('tack_suspended{job="tack"}')) === 0);
    timings.healVisible = Date.now() - t;
    expect((await execa("systemctl", ["--user", "is-active", UNIT], { reject: false })).stdout.trim()).toBe("active");
    expect((await execa("ufw", ["show", "added"])).stdout).toContain(`${PORT}`);
    // The series moved: up while drifted, down after, in Prometheus's own history.
    expect(await p.value('max_over_time(tack_drift_resources{job="tack",kind="ufw.rule"}[5m])')).toBeGreaterThanOrEqual(1);
    expect(await p.value('max_over_time(tack_suspended{job="tack"}[5m])')).toBe(1);
  });

  it("shows a failed reconcile as failed after successes, then a cutover and the new owner", async () => {
    const p = prom!;
    const invalidBefore = (await p.value('tack_reconcile_total{job="tack",result="invalid"}')) ?? 0;
    await writeFile(path.join(repo, "tack.yaml"), tackYaml("kubernetes"));
    let t = Date.now();
    await until("the failed reconcile in Prometheus", async () => (await p.value('tack_last_reconcile_failed{job="tack"}')) === 1);
    timings.failureVisible = Date.now() - t;
    expect(await p.value('tack_reconcile_total{job="tack",result="invalid"}')).toBeGreaterThan(invalidBefore);
    // The agent goes on healing toward the last good revision (those reconciles succeed): still failed.
    const healsBefore = (await p.value('tack_reconcile_total{job="tack",result="no-changes"}')) ?? 0;
    await until("heals after the failure in Prometheus", async () => ((await p.value('tack_reconcile_total{job="tack",result="no-changes"}')) ?? 0) >= healsBefore + 2);
    expect(await p.value('min_over_time(tack_last_reconcile_failed{job="tack"}[3s])')).toBe(1);
    // The desired revision moved to the invalid one; the applied one did not: the alert's join sees them differ.
    expect(await p.query('tack_desired_revision_info{job="tack"} unless on (job, instance, revision) tack_applied_revision_info{job="tack"}')).toHaveLength(1);

    await writeFile(path.join(repo, "tack.yaml"), tackYaml("none"));
    t = Date.now();
    await until("the cutover in Prometheus", async () => (await p.value('tack_cutover_total{job="tack",scope="api",from="native",to="none",result="succeeded"}')) === 1, 90_000);
    await until("owner none and success", async () => (await p.value('tack_scope_owner{job="tack",scope="api",owner="none"}')) === 1 && (await p.value('tack_last_reconcile_failed{job="tack"}')) === 0);
    timings.cutoverVisible = Date.now() - t;
    expect(await p.value('tack_scope_owner{job="tack",scope="api",owner="native"}')).toBe(0);
    // A scope that runs nothing on purpose has no health to report (an alert on 0 would be a false page).
    await until("no health series for a scope owned by none", async () => (await p.query('tack_health_up{job="tack",scope="api"}')).length === 0);
    expect(await p.query('tack_desired_revision_info{job="tack"} unless on (job, instance, revision) tack_applied_revision_info{job="tack"}')).toEqual([]);
    // One series per revision info metric, whatever happened before.
    expect(await p.query('tack_desired_revision_info{job="tack"}')).toHaveLength(1);
    expect(await p.query('tack_applied_revision_info{job="tack"}')).toHaveLength(1);
  });

  it("evaluates every dashboard query without error, with data where the scenario produced some", async () => {
    const p = prom!;
    // Back to native, so every panel (health per scope included) has a series to show.
    await writeFile(path.join(repo, "tack.yaml"), tackYaml("native"));
    await until("native again, healthy", async () => (await p.value('tack_health_up{job="tack",scope="api"}')) === 1, 90_000);
    // 1 s scrapes: a 10 s window holds enough samples for rate() and increase().
    const queries = dashboardQueries(undefined, "10s");
    const empty: string[] = [];
    for (const q of queries) {
      const result = await p.query(q.expr).catch((err: unknown) => {
        throw new Error(`${q.where}: ${String(err)}\n${q.expr}`);
      });
      if (result.length === 0) empty.push(q.where);
    }
    // Only queries that filter for a recent event (> 0) may be empty by the time this runs.
    expect(empty.filter((w) => !w.startsWith("annotation"))).toEqual([]);
    expect(queries.length).toBeGreaterThan(15);
  });

  it("loads the alert rules and evaluates each against the agent's series without error", async () => {
    const p = prom!;
    const groups = await until("rules evaluated", async () => {
      const g = await p.rules();
      return g.length > 0 && g.every((x) => x.rules.every((r) => r.health !== "unknown")) ? g : undefined;
    });
    const tack = groups.find((g) => g.name === "tack");
    expect(tack?.rules.length).toBe(11);
    for (const r of tack?.rules ?? []) expect({ rule: r.name, health: r.health, error: r.lastError ?? "" }).toEqual({ rule: r.name, health: "ok", error: "" });
    // The agent is up and Prometheus sees it: those two alerts are inactive.
    const state = (name: string) => tack?.rules.find((r) => r.name === name)?.state;
    expect(state("TackAgentDown")).toBe("inactive");
    expect(state("TackAgentMissing")).toBe("inactive");
    expect(state("TackStalled")).toBe("inactive"); // tack_stalled is 0: nothing is missing on this host
    expect(await readFile(ALERTS, "utf8")).toContain("name: tack");
  });
});
