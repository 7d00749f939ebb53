import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { LiveDriver } from "../../core/kind.js";
import type { ResolvedHost } from "../../core/resources.js";
import { ExecaRunner } from "../../core/runner.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { assumeConverged, offlinePlan } from "../../engine/offline-plan.js";
import { KINDS } from "../../kinds/index.js";
import type { Journal } from "../../run/journal.js";
import { planLive } from "../../run/reconcile.js";
import { tempDir, tempRepo } from "../helpers/temp-repo.js";

/**
 * One meaning for a removed section (issue: PR plans that tell the truth, point 4): a section left out is not
 * managed, live and offline alike. Removing one deletes nothing; the pull request plan says its resources are
 * released. Deleting every record of a small zone (2 of 2) gets a warning even below the blast-radius floor.
 */

const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };

async function resolved(repo: string): Promise<ResolvedHost> {
  const r = await loadDesiredState(repo, { facts: FACTS });
  if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
  return r.resolved;
}

async function rewrite(repo: string, fn: (s: string) => string): Promise<void> {
  const y = path.join(repo, "tack.yaml");
  await writeFile(y, fn(await readFile(y, "utf8")));
}

afterEach(() => vi.restoreAllMocks());

describe("a removed section", () => {
  for (const [section, re, kind] of [
    ["dns", /\ndns:\n( {2}.*\n| {4}.*\n)+/, "cloudflare.record"],
    ["firewall", /\nfirewall:\n( {2}.*\n| {4}.*\n| {6}.*\n)+/, "ufw.rule"],
  ] as const) {
    it(`${section}: deletes nothing, live or offline, and the pull request plan says the resources are released`, async () => {
      const repo = await tempRepo();
      const base = await resolved(repo);
      await rewrite(repo, (s) => s.replace(re, "\n"));
      const head = await resolved(repo);
      const offline = offlinePlan(head, base, "rev");
      expect(offline.changes.filter((c) => c.ref.kind === kind)).toEqual([]);
      const release = offline.findings.find((f) => f.id === "release");
      expect(release?.message).toMatch(new RegExp(`stops managing them and leaves them on the host as they are`));
      expect(release?.message).toContain(kind);

      // Live, against a host converged on the base: the same (the kind is not observed at all).
      for (const k of KINDS)
        vi.spyOn(k, "connect").mockImplementation(async () => {
          const d: LiveDriver<unknown, unknown, unknown> = {
            observe: async () => assumeConverged(base, base)[k.kind] ?? { resources: new Map(), facts: {} },
            apply: async () => undefined,
          };
          return d;
        });
      const live = (await planLive(head, "rev", { runner: new ExecaRunner(), stateDir: await tempDir(), journal: {} as Journal })).plan;
      expect(live.changes.filter((c) => c.ref.kind === kind)).toEqual([]);
      expect(live.changes.map((c) => c.ref.name)).toEqual(offline.changes.map((c) => c.ref.name));
    });
  }

  it("deleting every record of a small zone (2 of 2) is a warning below the blast-radius floor", async () => {
    const repo = await tempRepo();
    const base = await resolved(repo);
    await rewrite(repo, (s) => s.replace(/\n {2}records:\n( {4}.*\n)+/, "\n  records: []\n"));
    const plan = offlinePlan(await resolved(repo), base, "rev");
    expect(plan.changes.filter((c) => c.ref.kind === "cloudflare.record").map((c) => c.action)).toEqual(["delete", "delete"]);
    const f = plan.findings.find((x) => x.id === "blast-radius");
    expect(f).toMatchObject({ severity: "warning" });
    expect(f?.message).toMatch(/all 2 existing cloudflare\.record resources would be deleted/);
  });
});
