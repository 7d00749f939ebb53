import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { encryptAge, parseRecipients } from "../../core/age.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { LiveDriver, ObservedByKind } from "../../core/kind.js";
import { RESOURCE_KINDS } from "../../core/refs.js";
import type { Owner, ResolvedHost } from "../../core/resources.js";
import { ExecaRunner } from "../../core/runner.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { assumeConverged, offlinePlan } from "../../engine/offline-plan.js";
import type { Plan } from "../../engine/plan.js";
import { buildPlan } from "../../engine/planner.js";
import { KINDS } from "../../kinds/index.js";
import type { Journal } from "../../run/journal.js";
import { planLive } from "../../run/reconcile.js";
import { edit, tempDir, tempRepo } from "../helpers/temp-repo.js";

/**
 * One planner for every path (issue: one contract per kind): the live plan and the offline (pull request) plan of
 * the same desired state against the same observed state are equal, changes and findings included, for every kind.
 * The live side runs planLive with each kind's connect() answering the given observation, so what is compared is
 * everything between "observed" and "plan" on both paths.
 */

const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };

async function resolved(repo: string, owners?: Record<string, Owner>): Promise<ResolvedHost> {
  const r = await loadDesiredState(repo, { facts: FACTS, ...(owners ? { owners } : {}) });
  if (!r.resolved) throw new Error(r.findings.map((f) => f.message).join("\n"));
  return r.resolved;
}

/** Every kind's connect() answers `observed` (what a host converged on the base would report) and applies nothing. */
function stubConnect(observed: ObservedByKind) {
  for (const k of KINDS) {
    vi.spyOn(k, "connect").mockImplementation(async () => {
      const driver: LiveDriver<unknown, unknown, unknown> = {
        observe: async () => observed[k.kind] ?? { resources: new Map(), facts: {} },
        apply: async () => {
          throw new Error("a plan applies nothing");
        },
      };
      return driver;
    });
  }
}

afterEach(() => vi.restoreAllMocks());

// planLive needs no journal (only applying does).
const liveContext = async () => ({ runner: new ExecaRunner(), stateDir: await tempDir(), journal: {} as Journal });

const withoutWhen = ({ observedAt: _at, offline: _offline, ...rest }: Plan) => rest;

describe("live and offline plans agree", () => {
  it("a pull request's plan (offline, head against a host converged on base) equals the live plan of that host, for every kind", async () => {
    const repo = await tempRepo();
    const base = await resolved(repo);
    // The head changes every kind: owners (units and compose services), a proxy host's flag, a UFW rule, a record.
    const tackYaml = path.join(repo, "tack.yaml");
    await edit(tackYaml, "{ domains: [api.flow.example.org], scope: api, websockets: true }", "{ domains: [api.flow.example.org], scope: api, websockets: false }");
    await edit(tackYaml, "{ allow: tcp, port: 80, comment: http }", "{ allow: tcp, port: 8080, comment: http alt }");
    await edit(tackYaml, "content: 203.0.113.10, proxied: true", "content: 203.0.113.11, proxied: true");
    // ...and a new api secret (encrypted to the example's recipients): a secret.file change and the api's restart.
    const recipients = parseRecipients(await readFile(path.join(repo, "secrets", "recipients.txt"), "utf8"));
    await writeFile(path.join(repo, "secrets", "api.env.age"), await encryptAge(Buffer.from("ISLANDFLOW_DB_PASSWORD=rotated\n"), recipients));
    const head = await resolved(repo, { api: "native", workers: "native", "ingest-options": "native", web: "native" });

    const offline = offlinePlan(head, base, "rev");
    stubConnect(assumeConverged(head, base));
    const live = (await planLive(head, "rev", await liveContext())).plan;

    expect(withoutWhen(live)).toEqual(withoutWhen(offline));
    // The comparison covers every kind.
    expect(new Set(live.changes.map((c) => c.ref.kind))).toEqual(new Set(RESOURCE_KINDS));
  });

  it("findings agree too: what tack does not own is reported the same way live and offline", async () => {
    const repo = await tempRepo();
    const head = await resolved(repo);
    const observed = assumeConverged(head, head);
    observed["ufw.rule"]!.resources.set("in tcp 2222 any any", { action: "limit", direction: "in", proto: "tcp", port: "2222", from: "any", to: "any", comment: "by hand", v4: true, v6: true });
    observed["cloudflare.record"]!.resources.set("TXT hand.example.org", { id: "h1", type: "TXT", name: "hand.example.org", content: "v=1", ttl: 1, proxied: false, comment: "by hand" });
    observed["systemd.unit"]!.resources.set("islandflow-api.service", { ...(observed["systemd.unit"]!.resources.get("islandflow-api.service") as object), installedByTack: false });

    const offline = buildPlan({ host: head, revision: "rev", observedAt: "offline", observed, offline: true });
    stubConnect(observed);
    const live = (await planLive(head, "rev", await liveContext())).plan;

    expect(withoutWhen(live)).toEqual(withoutWhen(offline));
    expect(live.findings.map((f) => f.id)).toEqual(expect.arrayContaining(["ufw-unmanaged", "dns-unmanaged"]));
  });

  it("with no base, the offline plan equals a live plan of an empty host (with UFW's default facts)", async () => {
    const repo = await tempRepo();
    const head = await resolved(repo);
    const offline = offlinePlan(head, undefined, "rev");
    stubConnect(assumeConverged(head, undefined));
    const live = (await planLive(head, "rev", await liveContext())).plan;
    expect(live.changes).toEqual(offline.changes);
    expect(live.findings).toEqual(offline.findings);
    expect(live.fingerprint).toBe(offline.fingerprint);
  });
});
