import { describe, expect, it } from "vitest";
import { AgentStatus, conditionsOf, type DaemonStatus, type LastReconcile, type LiveFields } from "../../agent/status.js";

const tick = () => new Promise((r) => setTimeout(r, 0));

function fresh(live: LiveFields = { suspension: undefined, flapping: [], lastRun: undefined }, onError?: (err: unknown) => void) {
  return new AgentStatus({ host: "h1", source: "directory /srv/desired", appliedRevision: "abc", lastRun: undefined, suspension: undefined }, () => live, onError);
}

describe("AgentStatus", () => {
  it("snapshots the /status fields in their order, the live ones read at each snapshot", () => {
    const live: LiveFields = { suspension: undefined, flapping: [], lastRun: undefined };
    const s = fresh(live);
    expect(Object.keys(s.snapshot())).toEqual([
      "host", "source", "desiredRevision", "appliedRevision", "ready", "gitReachable", "lastReconcile", "lastRun", "drift",
      "driftDetails", "suspension", "lastError", "invalid", "held", "flapping", "reconciles", "health", "stalled", "retry", "conditions",
      "scopes", "edge", "recentReconciles",
    ]);
    live.flapping = [{ ref: "ufw.rule/22", corrections: 3, since: "2026-01-01T00:00:00.000Z" }];
    expect(s.snapshot().flapping).toHaveLength(1);
    const snap = s.snapshot();
    snap.appliedRevision = "changed by a reader";
    expect(s.snapshot().appliedRevision).toBe("abc");
  });

  it("records a reconcile: counts it and is ready from then on", () => {
    const s = fresh();
    expect(s.snapshot().ready).toBe(false);
    s.reconciled({ at: "t", triggers: ["start"], result: "no-changes", revision: "abc", durationMs: 5 }, undefined);
    s.reconciled({ at: "t", triggers: ["poll"], result: "error", revision: undefined, durationMs: 5, message: "boom" }, undefined);
    expect(s.snapshot()).toMatchObject({ ready: true, reconciles: 2, lastReconcile: { result: "error", message: "boom" } });
  });

  it("tells listeners once per tick with the final state, until they unsubscribe", async () => {
    const s = fresh();
    const seen: DaemonStatus[] = [];
    const off = s.subscribe((st) => seen.push(st));
    s.fetched("def");
    s.failed("def is invalid: bad");
    s.markInvalid({ revision: "def", message: "bad", locations: ["tack.yaml:3:1 bad"] });
    expect(seen).toHaveLength(0);
    await tick();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ desiredRevision: "def", gitReachable: true, lastError: "def is invalid: bad", invalid: { revision: "def" } });
    s.succeeded();
    await tick();
    expect(seen).toHaveLength(2);
    expect(seen[1]!.lastError).toBeUndefined();
    off();
    s.hold("waiting");
    await tick();
    expect(seen).toHaveLength(2);
  });

  it("keeps a throwing listener away from the agent and from the other listeners", async () => {
    const errors: unknown[] = [];
    const s = fresh(undefined, (err) => errors.push(err));
    const seen: string[] = [];
    s.subscribe(() => {
      throw new Error("listener broke");
    });
    s.subscribe((st) => seen.push(st.held ?? "none"));
    expect(() => s.hold("waiting")).not.toThrow();
    await tick();
    expect(seen).toEqual(["waiting"]);
    expect(String(errors[0])).toMatch(/listener broke/);
    s.unsubscribeAll();
    s.hold(undefined);
    await tick();
    expect(seen).toEqual(["waiting"]);
  });
});

describe("conditions (Ready, Reconciling, Stalled), as Flux reports them", () => {
  const base = {
    host: "h", source: "s", desiredRevision: "r2", appliedRevision: "r1", ready: true, gitReachable: true, lastRun: undefined,
    drift: {}, driftDetails: [], suspension: undefined, lastError: undefined, invalid: undefined, held: undefined, flapping: [],
    reconciles: 1, health: {}, stalled: undefined, retry: undefined,
  };
  const last = (result: LastReconcile["result"]): LastReconcile => ({ at: "t", triggers: ["poll"], result, revision: "r2", durationMs: 1 });

  it("Ready only when the desired revision is applied and the last reconcile succeeded", () => {
    expect(conditionsOf({ ...base, appliedRevision: "r2", lastReconcile: last("success") })[0]).toMatchObject({ type: "Ready", status: "True" });
    expect(conditionsOf({ ...base, lastReconcile: last("no-changes") })[0]).toMatchObject({ status: "False", reason: "RevisionNotApplied" });
    expect(conditionsOf({ ...base, lastReconcile: last("transient"), lastError: "Cloudflare 503" })[0]).toMatchObject({ status: "False", reason: "TransientFailure", message: "Cloudflare 503" });
  });

  it("Stalled with the host's problem, and Reconciling while a retry is scheduled", () => {
    const c = conditionsOf({
      ...base,
      lastReconcile: last("stalled"),
      stalled: { reason: "HostProblem", message: "Cloudflare token: environment variable X is not set", since: "t0" },
      retry: { at: "t1", attempt: 3, message: "x" },
    });
    expect(c.map((x) => `${x.type}=${x.status} ${x.reason}`)).toEqual(["Ready=False HostProblem", "Reconciling=True RetryScheduled", "Stalled=True HostProblem"]);
    expect(c[2]!.message).toMatch(/environment variable X/);
  });
});
