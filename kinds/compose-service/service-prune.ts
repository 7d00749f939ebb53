import type { Change } from "../../core/changes.js";
import { ApplyError } from "../../core/errors.js";
import type { Inventory } from "../../core/inventory.js";
import type { DesiredComposeService } from "../../core/resources.js";
import type { Runner } from "../../core/runner.js";
import type { ComposeDriver } from "./compose-driver.js";
import { isRunning, SERVICE_KIND, type ObservedService } from "./compose-plan.js";

/**
 * Prune for compose services. Compose knows services only by the files it is given, so a service removed from the
 * repo (or a whole scope) would keep running forever: tack remembers each service it started (the journal's
 * inventory: project and service), observes the containers of those no longer desired by their compose labels, and
 * removes them with `docker rm -f` (stop and remove), which needs no compose file: the revision that named the
 * service may be long gone, and the service may even still be in the compose file.
 */

interface Entry {
  project: string;
  service: string;
}

export class ServiceInventory {
  constructor(private readonly inventory: Inventory) {}

  entries(): Map<string, Entry> {
    const out = new Map<string, Entry>();
    for (const [name, data] of this.inventory.entries(SERVICE_KIND)) out.set(name, JSON.parse(data) as Entry);
    return out;
  }

  /** A service tack started is tack's until it is removed; a retired one (rm -s -f) is forgotten. */
  record(d: DesiredComposeService): void {
    if (d.state === "running") this.inventory.add(SERVICE_KIND, d.name, JSON.stringify({ project: d.project, service: d.service }));
    else this.inventory.remove(SERVICE_KIND, d.name);
  }

  forget(name: string): void {
    this.inventory.remove(SERVICE_KIND, name);
  }
}

/** Containers of the services tack started that the desired state no longer names (only those with containers). */
export async function observeUndesired(compose: ComposeDriver, inventory: ServiceInventory, desired: DesiredComposeService[]): Promise<Map<string, ObservedService>> {
  const named = new Set(desired.map((d) => d.name));
  const gone: DesiredComposeService[] = [];
  for (const [name, e] of inventory.entries()) {
    if (named.has(name)) continue;
    // Only project and service matter to observing containers (by their labels).
    gone.push({ kind: SERVICE_KIND, name, project: e.project, service: e.service, files: [], workingDir: "/", env: {}, state: "removed", scope: "" });
  }
  const out = new Map<string, ObservedService>();
  if (!gone.length) return out;
  const containers = await compose.observeContainers(gone);
  for (const g of gone) {
    const list = containers.get(g.name) ?? [];
    if (list.length) out.set(g.name, { name: g.name, project: g.project, service: g.service, defined: false, expectedHash: undefined, image: undefined, containers: list });
  }
  return out;
}

/** Pure: every observed service the desired state does not name is pruned (offline: what the base had). */
export function pruneServices(desired: DesiredComposeService[], actual: Map<string, ObservedService>): Change<DesiredComposeService, ObservedService>[] {
  const named = new Set(desired.map((d) => d.name));
  const out: Change<DesiredComposeService, ObservedService>[] = [];
  for (const [name, a] of actual) {
    if (named.has(name) || a.containers.length === 0) continue;
    out.push({
      ref: { kind: SERVICE_KIND, name },
      action: "delete",
      phase: "prune",
      fields: [{ field: "containers", from: a.containers.length, to: 0 }],
      risk: "destructive",
      reason: `tack started ${name} and the desired state no longer names it: stop and remove its container(s)${isRunning(a) ? " (running)" : ""}`,
      actual: a,
      prune: true,
    });
  }
  return out;
}

export async function removeContainers(runner: Runner, changes: Change<DesiredComposeService, ObservedService>[], inventory: ServiceInventory): Promise<void> {
  const done: Change["ref"][] = [];
  for (const c of changes) {
    const ids = c.actual?.containers.map((x) => x.id).filter(Boolean) ?? [];
    try {
      if (ids.length) await runner.run("docker", ["rm", "-f", ...ids], { mutates: true });
    } catch (err) {
      throw new ApplyError(`docker rm -f failed: ${err instanceof Error ? err.message : String(err)}`, { ref: c.ref, phase: c.phase, cause: err, applied: done });
    }
    inventory.forget(c.ref.name);
    done.push(c.ref);
  }
}
