import path from "node:path";
import { describe, expect, it } from "vitest";
import type { DesiredSecretFile, Owner, ResolvedHost } from "../../core/resources.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { assumeConverged, offlinePlan } from "../../engine/offline-plan.js";
import { buildPlan } from "../../engine/planner.js";
import { buildSteps } from "../../engine/steps.js";
import { planSecrets, type ObservedSecret } from "../../kinds/secret-file/secret-plan.js";
import { renderPlan } from "../../reports/render-plan.js";
import { tempDir, tempRepo } from "../helpers/temp-repo.js";
import { addSecrets, writeSecret } from "./secret-repo.js";

const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };
const NATIVE = { api: "native", workers: "native", "ingest-options": "native", web: "native" } as const;
const PLAINTEXT = "DB_PASSWORD=correct-horse-battery-staple";

async function resolved(repo: string, owners?: Record<string, Owner>): Promise<ResolvedHost> {
  const r = await loadDesiredState(repo, { facts: FACTS, ...(owners ? { owners } : {}) });
  if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
  return r.resolved;
}

const desired = (over: Partial<DesiredSecretFile> = {}): DesiredSecretFile => ({
  kind: "secret.file",
  name: "/etc/app/db.env",
  source: "secrets/db.env.age",
  ciphertext: "",
  cipherHash: "b".repeat(64),
  mode: 0o600,
  owner: "root",
  group: "",
  scope: "api",
  ...over,
});
const observed = (over: Partial<ObservedSecret> = {}): ObservedSecret => ({
  name: "/etc/app/db.env",
  exists: true,
  mode: 0o600,
  owner: "root",
  group: "root",
  written: { cipherHash: "b".repeat(64), intact: true },
  ...over,
});

describe("secret.file plan (pure)", () => {
  it("keys on the ciphertext and on what tack wrote: converged, changed, edited on the host, missing", () => {
    const one = (a: ObservedSecret | undefined) => planSecrets([desired()], new Map(a ? [[a.name, a]] : []));
    expect(one(observed())).toEqual([]);
    const changed = one(observed({ written: { cipherHash: "a".repeat(64), intact: true } }));
    expect(changed).toMatchObject([{ action: "update", phase: "runtime-start", scope: "api", restartsScope: true, risk: "disruptive" }]);
    expect(changed[0]!.fields).toEqual([{ field: "content", from: "age aaaaaaaaaaaa", to: "age bbbbbbbbbbbb (content hidden)" }]);
    expect(changed[0]!.reason).toContain("content hidden");
    const edited = one(observed({ written: { cipherHash: "b".repeat(64), intact: false } }));
    expect(edited[0]!.fields).toEqual([{ field: "content", from: "edited on the host", to: "age bbbbbbbbbbbb (content hidden)" }]);
    expect(edited[0]!.restartsScope).toBe(true);
    expect(one(undefined)).toMatchObject([{ action: "create", fields: [{ field: "content", from: null, to: "age bbbbbbbbbbbb (content hidden)" }] }]);
    expect(one(observed({ written: undefined }))[0]!.fields[0]!.from).toBe("not written by tack");
  });

  it("mode and owner are fixed in place without a restart; what tack wrote and no longer names is pruned", () => {
    const fix = planSecrets([desired()], new Map([["/etc/app/db.env", observed({ mode: 0o644, owner: "delta" })]]));
    expect(fix).toMatchObject([{ action: "update", fields: [{ field: "mode", from: "0644", to: "0600" }, { field: "owner", from: "delta", to: "root" }] }]);
    expect(fix[0]!.restartsScope).toBeUndefined();
    const pruned = planSecrets([], new Map([["/etc/app/db.env", observed()], ["/etc/hand", observed({ name: "/etc/hand", written: undefined })]]));
    expect(pruned).toMatchObject([{ action: "delete", phase: "prune", prune: true, ref: { name: "/etc/app/db.env" } }]);
  });
});

describe("a changed secret in plans", () => {
  async function secretRepo() {
    const repo = await tempRepo();
    const { recipient } = await addSecrets(repo, await tempDir(), [{ name: "api.env", plaintext: PLAINTEXT, target: "/etc/islandflow/api.env", scope: "api" }], ["/etc"]);
    return { repo, recipient };
  }

  it("restarts its scope's running unit in the scope's runtime-start, after the secret is written, behind the scope's gate", async () => {
    const { repo, recipient } = await secretRepo();
    const base = await resolved(repo, NATIVE);
    await writeSecret(repo, "api.env", PLAINTEXT.replace("staple", "stapler"), [recipient]);
    const head = await resolved(repo, NATIVE);
    const plan = offlinePlan(head, base, "head");
    expect(plan.changes.map((c) => `${c.phase} ${c.ref.kind} ${c.ref.name} ${c.fields.map((f) => f.field).join(",")}`)).toEqual([
      "runtime-start secret.file /etc/islandflow/api.env content",
      "runtime-start systemd.unit islandflow-api.service restart",
    ]);
    const steps = buildSteps(plan, head).map((s) => `${s.phase}${s.scope ? `[${s.scope}]` : ""}${s.kind ? ` ${s.kind}` : ""}`);
    expect(steps).toEqual(["runtime-start[api] secret.file", "runtime-start[api] systemd.unit", "health[api]"]);
    expect(plan.gates.map((g) => g.scope)).toEqual(["api"]);
  });

  it("recreates a running compose service of a docker-owned scope (never both runtimes)", async () => {
    const { repo, recipient } = await secretRepo();
    const base = await resolved(repo);
    await writeSecret(repo, "api.env", "other", [recipient]);
    const plan = offlinePlan(await resolved(repo), base, "head");
    expect(plan.changes.map((c) => `${c.ref.kind} ${c.ref.name} ${c.fields.map((f) => f.field).join(",")}`)).toEqual([
      "compose.service islandflow/api restart",
      "secret.file /etc/islandflow/api.env content",
    ]);
  });

  it("a re-encryption of the same secret is a change (keyed on the ciphertext), a mode change restarts nothing", async () => {
    const { repo, recipient } = await secretRepo();
    const base = await resolved(repo, NATIVE);
    const head = await resolved(repo, NATIVE);
    const mode = buildPlan({ host: head, revision: "r", observedAt: "offline", offline: true, observed: { ...assumeConverged(head, base), "secret.file": { resources: new Map([["/etc/islandflow/api.env", observed({ name: "/etc/islandflow/api.env", mode: 0o640, written: { cipherHash: head.resources["secret.file"][0]!.cipherHash, intact: true } })]]), facts: {} } } });
    expect(mode.changes.map((c) => c.ref.kind)).toEqual(["secret.file"]);
    await writeSecret(repo, "api.env", PLAINTEXT, [recipient]);
    expect(offlinePlan(await resolved(repo, NATIVE), base, "head").changes.map((c) => c.ref.kind)).toEqual(["secret.file", "systemd.unit"]);
  });

  it("text, markdown and JSON say 'content hidden' and hold no byte of the plaintext", async () => {
    const { repo, recipient } = await secretRepo();
    const base = await resolved(repo, NATIVE);
    await writeSecret(repo, "api.env", PLAINTEXT.replace("horse", "pony"), [recipient]);
    const head = await resolved(repo, NATIVE);
    const plan = offlinePlan(head, base, "head");
    for (const format of ["text", "markdown", "json"] as const) {
      const out = renderPlan(plan, head, format);
      expect(out).toContain("/etc/islandflow/api.env");
      if (format !== "json") expect(out).toContain("content hidden");
      expect(out).not.toContain("horse");
      expect(out).not.toContain("pony");
      expect(out).not.toContain("DB_PASSWORD");
    }
    expect(JSON.stringify(plan)).not.toContain("DB_PASSWORD");
    expect(path.basename(head.resources["secret.file"][0]!.source)).toBe("api.env.age");
  });
});
