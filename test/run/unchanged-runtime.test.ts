import { appendFile, symlink } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ResolvedHost } from "../../core/resources.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { unchangedRuntimeKinds } from "../../run/unchanged-runtime.js";
import { edit, tempRepo } from "../helpers/temp-repo.js";

/** run/unchanged-runtime.ts: when the agent may plan the runtimes of a new commit without observing them. */
const FACTS = { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };

async function resolve(dir: string): Promise<ResolvedHost> {
  const r = await loadDesiredState(dir, { facts: FACTS });
  if (!r.resolved) throw new Error(`invalid: ${JSON.stringify(r.findings)}`);
  return r.resolved;
}

/** Two checkouts of the example (the last good one and the new one), the new one edited by `change`. */
async function compare(change: (dir: string) => Promise<void>) {
  const last = await tempRepo();
  const next = await tempRepo();
  await change(next);
  return unchangedRuntimeKinds(next, await resolve(next), { dir: last, resolve: () => resolve(last) });
}

const RUNTIME = ["compose.service", "secret.file", "systemd.unit"];

describe("unchanged runtimes (the agent's edge-only path)", () => {
  it("an edge-only edit in another checkout leaves every runtime kind (units, services, secrets) to be taken as converged", async () => {
    const kinds = await compare((dir) => edit(path.join(dir, "tack.yaml"), "blockExploits: true", "blockExploits: false"));
    expect(kinds.sort()).toEqual(RUNTIME);
  });

  it("an owner change, an edited unit file, an edited compose file, a new file: everything is observed", async () => {
    expect(await compare((dir) => edit(path.join(dir, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: native"))).toEqual([]);
    expect(await compare((dir) => edit(path.join(dir, "units/islandflow-api.service"), "[Service]", "[Service]\nNice=5"))).toEqual([]);
    expect(await compare((dir) => edit(path.join(dir, "compose/docker-compose.yml"), "services:", "# edited\nservices:"))).toEqual([]);
    expect(await compare((dir) => symlink("units", path.join(dir, "more-units")))).toEqual([]);
    // A new secret is a new age file (its ciphertext): the scope's runtime restarts, so it is observed.
    expect(await compare((dir) => appendFile(path.join(dir, "secrets/api.env.age"), "\n"))).toEqual([]);
  });

  it("a health check or DNS edit is not a runtime change; no last good revision, or the same one, observes everything", async () => {
    const dns = await compare((dir) => edit(path.join(dir, "tack.yaml"), "proxied: true", "proxied: false"));
    expect(dns.sort()).toEqual(RUNTIME);
    const dir = await tempRepo();
    const host = await resolve(dir);
    expect(await unchangedRuntimeKinds(dir, host, undefined)).toEqual([]);
    expect(await unchangedRuntimeKinds(dir, host, { dir, resolve: () => resolve(dir) })).toEqual([]);
  });

  it("a last good revision that no longer resolves: everything is observed", async () => {
    const last = await tempRepo();
    const next = await tempRepo();
    await edit(path.join(last, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: [docker");
    expect(await unchangedRuntimeKinds(next, await resolve(next), { dir: last, resolve: () => resolve(last) })).toEqual([]);
  });
});
