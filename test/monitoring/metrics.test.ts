import type { MetricObjectWithValues, MetricValue } from "prom-client";
import { describe, expect, it } from "vitest";
import { RESOURCE_KINDS } from "../../core/refs.js";
import { RECONCILE_RESULTS, TackMetrics } from "../../agent/metrics.js";

// The contract (design.md "Metrics"): names, types and label names. Changing one breaks users' dashboards and alerts.
const CONTRACT: Record<string, { type: string; labels: string[] }> = {
  tack_reconcile_total: { type: "counter", labels: ["result"] },
  tack_reconcile_duration_seconds: { type: "histogram", labels: [] },
  tack_drift_resources: { type: "gauge", labels: ["kind"] },
  tack_last_success_timestamp_seconds: { type: "gauge", labels: [] },
  tack_last_reconcile_failed: { type: "gauge", labels: [] },
  tack_desired_revision_info: { type: "gauge", labels: ["revision"] },
  tack_applied_revision_info: { type: "gauge", labels: ["revision"] },
  tack_scope_owner: { type: "gauge", labels: ["scope", "owner"] },
  tack_health_up: { type: "gauge", labels: ["scope"] },
  tack_cutover_total: { type: "counter", labels: ["scope", "from", "to", "result"] },
  tack_rollback_total: { type: "counter", labels: [] },
  tack_git_fetch_errors_total: { type: "counter", labels: [] },
  tack_suspended: { type: "gauge", labels: [] },
  tack_stalled: { type: "gauge", labels: [] },
};

// prom-client's MetricValueWithName is not exported: histogram samples carry their series name.
type Sample = MetricValue<string> & { metricName?: string };
type Values = Sample[];

async function metric(m: TackMetrics, name: string): Promise<MetricObjectWithValues<Sample>> {
  const found = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!found) throw new Error(`metric ${name} is not registered`);
  return found as MetricObjectWithValues<Sample>;
}

async function values(m: TackMetrics, name: string): Promise<Values> {
  return (await metric(m, name)).values;
}

async function value(m: TackMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const all = await values(m, name);
  const want = JSON.stringify(Object.entries(labels).sort());
  return all.find((v) => JSON.stringify(Object.entries(v.labels).sort()) === want)?.value;
}

/** Number of exposed samples (histogram buckets included): what Prometheus would store per scrape. */
async function sampleCount(m: TackMetrics): Promise<number> {
  const text = await m.metrics();
  return text.split("\n").filter((l) => l.startsWith("tack_")).length;
}

describe("TackMetrics: contract", () => {
  it("registers every contract name with its type, HELP text and label names", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setDesiredRevision("a1");
    m.setAppliedRevision("a1");
    m.setScopeOwners([{ scope: "api", owner: "native" }]);
    m.setHealth("api", true);
    m.cutover("api", "docker", "native", "succeeded");
    const text = await m.metrics();
    for (const [name, spec] of Object.entries(CONTRACT)) {
      const json = await metric(m, name);
      expect(json.type, name).toBe(spec.type);
      expect(text).toContain(`# TYPE ${name} ${spec.type}\n`);
      expect(json.help.length, `${name} has help`).toBeGreaterThan(5);
      const sample = json.values.find((v) => v.metricName === undefined || v.metricName === `${name}_count`) ?? json.values[0];
      expect(sample, `${name} has a sample`).toBeDefined();
      const labels = Object.keys(sample?.labels ?? {}).filter((l) => l !== "le");
      expect(labels.sort(), name).toEqual([...spec.labels].sort());
    }
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => n.startsWith("tack_"));
    expect(names.sort()).toEqual(Object.keys(CONTRACT).sort());
  });

  it("exposes series before anything happened, so alerts and rate() have a baseline", async () => {
    const m = new TackMetrics({ processMetrics: false });
    for (const result of RECONCILE_RESULTS) expect(await value(m, "tack_reconcile_total", { result })).toBe(0);
    for (const kind of RESOURCE_KINDS) expect(await value(m, "tack_drift_resources", { kind })).toBe(0);
    expect(await value(m, "tack_rollback_total")).toBe(0);
    expect(await value(m, "tack_git_fetch_errors_total")).toBe(0);
    expect(await value(m, "tack_suspended")).toBe(0);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(0);
    expect(await value(m, "tack_last_success_timestamp_seconds")).toBe(0);
  });

  it("adds Node's process metrics (prom-client defaults) unless told not to", async () => {
    const m = new TackMetrics();
    const text = await m.metrics();
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_seconds"]) {
      expect(text, name).toMatch(new RegExp(`^${name} \\d`, "m"));
    }
    const start = await value(m, "process_start_time_seconds");
    expect(start).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(start).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    expect(await new TackMetrics({ processMetrics: false }).metrics()).not.toContain("process_cpu_seconds_total");
  });

  it("gives each instance its own registry (several agents in one process, tests)", async () => {
    const a = new TackMetrics();
    const b = new TackMetrics();
    a.rollback();
    expect(await value(a, "tack_rollback_total")).toBe(1);
    expect(await value(b, "tack_rollback_total")).toBe(0);
  });
});

describe("TackMetrics: honest values", () => {
  it("a failed reconcile after a success shows failed, keeps the last success time, and counts both", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.reconcileFinished("success", 2, 1_700_000_000_000);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(0);
    expect(await value(m, "tack_last_success_timestamp_seconds")).toBe(1_700_000_000);
    m.reconcileFinished("rolled-back", 40, 1_700_000_060_000);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(1);
    expect(await value(m, "tack_last_success_timestamp_seconds")).toBe(1_700_000_000);
    expect(await value(m, "tack_reconcile_total", { result: "success" })).toBe(1);
    expect(await value(m, "tack_reconcile_total", { result: "rolled-back" })).toBe(1);
    m.reconcileFinished("no-changes", 0.3, 1_700_000_120_000);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(0);
    expect(await value(m, "tack_last_success_timestamp_seconds")).toBe(1_700_000_120);
  });

  it("stays failed while heals toward the last good revision succeed, until the desired revision converges", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setDesiredRevision("a");
    m.setAppliedRevision("a");
    m.reconcileFinished("success", 1, 1_000_000);
    m.setDesiredRevision("b");
    m.reconcileFinished("rolled-back", 30, 2_000_000);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(1);
    // The agent keeps healing drift toward "a": those reconciles succeed and count, the failure is not over.
    m.setAppliedRevision("a");
    m.reconcileFinished("no-changes", 0.5, 3_000_000);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(1);
    expect(await value(m, "tack_last_success_timestamp_seconds")).toBe(3_000);
    expect(await value(m, "tack_reconcile_total", { result: "no-changes" })).toBe(1);
    // A fixed commit arrives and is applied.
    m.setDesiredRevision("c");
    m.setAppliedRevision("c");
    m.reconcileFinished("success", 20, 4_000_000);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(0);
  });

  it("clears the failure on success when no desired revision is tracked (one-shot apply)", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.reconcileFinished("failure", 1);
    m.reconcileFinished("success", 1);
    expect(await value(m, "tack_last_reconcile_failed")).toBe(0);
  });

  it("counts every non-converging outcome as failed", async () => {
    for (const result of ["failure", "rolled-back", "invalid", "refused"] as const) {
      const m = new TackMetrics({ processMetrics: false });
      m.reconcileFinished("success", 1);
      m.reconcileFinished(result, 1);
      expect(await value(m, "tack_last_reconcile_failed"), result).toBe(1);
    }
  });

  it("observes durations into the histogram", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.reconcileFinished("success", 0.2);
    m.reconcileFinished("success", 45);
    const v = await values(m, "tack_reconcile_duration_seconds");
    const bucket = (le: number) => v.find((x) => x.metricName === "tack_reconcile_duration_seconds_bucket" && x.labels.le === le)?.value;
    expect(bucket(0.25)).toBe(1);
    expect(bucket(30)).toBe(1);
    expect(bucket(60)).toBe(2);
    expect(v.find((x) => x.metricName === "tack_reconcile_duration_seconds_count")?.value).toBe(2);
    expect(v.find((x) => x.metricName === "tack_reconcile_duration_seconds_sum")?.value).toBeCloseTo(45.2);
  });

  it("drift per kind returns to zero when healed", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setDrift({ "systemd.unit": 2, "ufw.rule": 1 });
    expect(await value(m, "tack_drift_resources", { kind: "systemd.unit" })).toBe(2);
    expect(await value(m, "tack_drift_resources", { kind: "ufw.rule" })).toBe(1);
    expect(await value(m, "tack_drift_resources", { kind: "npm.proxyHost" })).toBe(0);
    m.setDrift({ "ufw.rule": 1 });
    expect(await value(m, "tack_drift_resources", { kind: "systemd.unit" })).toBe(0);
    m.setDrift({});
    for (const kind of RESOURCE_KINDS) expect(await value(m, "tack_drift_resources", { kind })).toBe(0);
    expect(await values(m, "tack_drift_resources")).toHaveLength(RESOURCE_KINDS.length);
  });

  it("revision info keeps one series per metric, the current revision", async () => {
    const m = new TackMetrics({ processMetrics: false });
    for (let i = 0; i < 50; i++) m.setDesiredRevision(`rev${i}`);
    m.setDesiredRevision("rev49");
    expect(await values(m, "tack_desired_revision_info")).toEqual([expect.objectContaining({ value: 1, labels: { revision: "rev49" } })]);
    m.setAppliedRevision("rev10");
    m.setAppliedRevision("rev49");
    expect(await values(m, "tack_applied_revision_info")).toEqual([expect.objectContaining({ value: 1, labels: { revision: "rev49" } })]);
    expect(await values(m, "tack_desired_revision_info")).toHaveLength(1);
  });

  it("one owner series is 1 per scope; scopes removed from the desired state lose their series", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setScopeOwners([
      { scope: "api", owner: "docker" },
      { scope: "web", owner: "native" },
    ]);
    m.setHealth("api", true);
    m.setHealth("web", false);
    m.cutover("web", "docker", "native", "succeeded");
    const ones = (await values(m, "tack_scope_owner")).filter((v) => v.value === 1).map((v) => v.labels);
    expect(ones).toEqual(expect.arrayContaining([{ scope: "api", owner: "docker" }, { scope: "web", owner: "native" }]));
    expect(ones).toHaveLength(2);

    m.setScopeOwners([{ scope: "api", owner: "native" }]);
    const owners = await values(m, "tack_scope_owner");
    expect(owners.every((v) => v.labels.scope === "api")).toBe(true);
    expect(owners.filter((v) => v.value === 1).map((v) => v.labels.owner)).toEqual(["native"]);
    expect((await values(m, "tack_health_up")).map((v) => v.labels)).toEqual([{ scope: "api" }]);
    expect(await value(m, "tack_health_up", { scope: "api" })).toBe(1);
    expect((await values(m, "tack_cutover_total")).filter((v) => v.labels.scope === "web")).toEqual([]);
  });

  it("health follows the latest probe", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setScopeOwners([{ scope: "api", owner: "native" }]);
    m.setHealth("api", true);
    m.setHealth("api", false);
    expect(await value(m, "tack_health_up", { scope: "api" })).toBe(0);
  });

  it("a drift check's probes set every owned scope and drop a scope no longer probed (owner none)", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setHealthOfScopes(new Map([["api", true], ["web", false]]));
    expect(await value(m, "tack_health_up", { scope: "web" })).toBe(0);
    m.setHealthOfScopes(new Map([["api", false]]));
    expect((await values(m, "tack_health_up")).map((v) => [v.labels.scope, v.value])).toEqual([["api", 0]]);
  });

  it("counts cutovers by outcome, rollbacks, fetch errors, and suspension both ways", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setScopeOwners([{ scope: "api", owner: "native" }]);
    m.cutover("api", "docker", "native", "rolled-back");
    m.cutover("api", "docker", "native", "succeeded");
    m.cutover("api", "docker", "native", "succeeded");
    expect(await value(m, "tack_cutover_total", { scope: "api", from: "docker", to: "native", result: "succeeded" })).toBe(2);
    expect(await value(m, "tack_cutover_total", { scope: "api", from: "docker", to: "native", result: "rolled-back" })).toBe(1);
    m.rollback();
    m.gitFetchError();
    m.gitFetchError();
    expect(await value(m, "tack_rollback_total")).toBe(1);
    expect(await value(m, "tack_git_fetch_errors_total")).toBe(2);
    m.setSuspended(true);
    expect(await value(m, "tack_suspended")).toBe(1);
    m.setSuspended(false);
    expect(await value(m, "tack_suspended")).toBe(0);
  });

  it("serves the Prometheus text format content type", () => {
    expect(new TackMetrics({ processMetrics: false }).contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe("TackMetrics: bounded cardinality", () => {
  it("stays bounded by the declared scopes over many reconciles, revisions and cutovers", async () => {
    const m = new TackMetrics({ processMetrics: false });
    const scopes = ["api", "web", "worker"];
    let maxSamples = 0;
    for (let i = 0; i < 200; i++) {
      m.reconcileFinished(RECONCILE_RESULTS[i % RECONCILE_RESULTS.length]!, i % 7);
      m.setDesiredRevision(`d${i}`);
      m.setAppliedRevision(`a${i}`);
      m.setDrift({ "systemd.unit": i % 3, "cloudflare.record": i % 5 });
      const owner = i % 2 === 0 ? "native" : "docker";
      m.setScopeOwners(scopes.map((scope) => ({ scope, owner })));
      for (const scope of scopes) {
        m.setHealth(scope, i % 4 !== 0);
        m.cutover(scope, owner === "native" ? "docker" : "native", owner, i % 3 === 0 ? "rolled-back" : "succeeded");
      }
      maxSamples = Math.max(maxSamples, await sampleCount(m));
    }
    // Fixed: 8 results, 11 buckets + +Inf + sum + count, 5 kinds, 2 revisions, 2 timestamps/flags, 3 counters, suspended, stalled.
    // Per scope: 4 owner series, 1 health, at most 4 cutover series (2 directions x 2 results seen here).
    const fixed = RECONCILE_RESULTS.length + 14 + RESOURCE_KINDS.length + 2 + 2 + 2 + 1 + 1;
    expect(maxSamples).toBeLessThanOrEqual(fixed + scopes.length * (4 + 1 + 4));
    expect(await sampleCount(m)).toBe(maxSamples);
  });

  it("maps unknown owner names in cutovers to one 'other' label", async () => {
    const m = new TackMetrics({ processMetrics: false });
    m.setScopeOwners([{ scope: "api", owner: "native" }]);
    for (let i = 0; i < 20; i++) m.cutover("api", `typo${i}`, "native", "failed");
    const series = await values(m, "tack_cutover_total");
    expect(series).toEqual([expect.objectContaining({ value: 20, labels: { scope: "api", from: "other", to: "native", result: "failed" } })]);
  });
});
