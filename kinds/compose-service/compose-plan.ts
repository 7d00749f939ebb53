import type { Change, FieldChange, Phase } from "../../core/changes.js";
import type { DesiredComposeService } from "../../core/resources.js";

/**
 * The Compose driver's pure half: a service as observed through its containers' labels, and the changes
 * that bring it to running or removed. No I/O here (compose/compose-driver.ts does it all).
 */

export const SERVICE_KIND = "compose.service" as const;

export interface ObservedContainer {
  id: string;
  name: string;
  /** Docker's State: created, running, paused, restarting, exited, dead. */
  state: string;
  /** Docker's Status, e.g. `Up 3 seconds (healthy)`. */
  status: string;
  /** From Status: healthy, unhealthy, starting; undefined when the image defines no health check. */
  health: "healthy" | "unhealthy" | "starting" | undefined;
  configHash: string;
}

export interface ObservedService {
  name: string;
  project: string;
  service: string;
  /** The service is defined in the compose files. */
  defined: boolean;
  /** What compose would label a container of the current files with (`config --hash`). */
  expectedHash: string | undefined;
  image: string | undefined;
  containers: ObservedContainer[];
  /**
   * The inventory lists it (tack started or took over the service); undefined when not known (the driver alone).
   * A running, current service that is not tracked is taken over without touching its containers (tack import).
   */
  tracked?: boolean;
}

export function parseHealth(status: string): ObservedContainer["health"] {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  if (!m) return undefined;
  return m[1] === "health: starting" ? "starting" : (m[1] as "healthy" | "unhealthy");
}

export function isRunning(s: ObservedService | undefined): boolean {
  return !!s && s.containers.some((c) => c.state === "running" || c.state === "restarting");
}

/** Every container carries the hash of the current files (no container: nothing stale). */
export function isCurrent(s: ObservedService): boolean {
  return s.expectedHash === undefined || s.containers.every((c) => c.configHash === s.expectedHash);
}

export function diffService(desired: DesiredComposeService | undefined, actual: ObservedService | undefined): FieldChange[] {
  const containers = actual?.containers.length ?? 0;
  const running = isRunning(actual);
  if (!desired || desired.state === "removed") {
    return containers > 0 ? [{ field: "state", from: running ? "running" : "stopped", to: "removed" }] : [];
  }
  const out: FieldChange[] = [];
  if (!running) out.push({ field: "state", from: containers ? "stopped" : "absent", to: "running" });
  if (actual && containers > 0 && !isCurrent(actual)) {
    const stale = actual.containers.find((c) => c.configHash !== actual.expectedHash);
    out.push({ field: "configHash", from: stale?.configHash.slice(0, 12), to: actual.expectedHash?.slice(0, 12) });
  }
  if (out.length === 0 && actual?.tracked === false) out.push({ field: "ownership", from: "unmanaged", to: "adopted" });
  return out;
}

/** A change that only records the service as tack's: its containers are left exactly as they are. */
export function isAdoption(fields: readonly FieldChange[]): boolean {
  return fields.length > 0 && fields.every((f) => f.field === "ownership");
}

export interface ComposePlanOptions {
  phases?: Partial<Record<"start" | "remove", Phase>>;
}

/**
 * running: `up -d --no-deps` creates, starts, or recreates a stale service; removed: `rm -s -f`, because a
 * stopped container with `restart: always` comes back when dockerd restarts (design.md Decisions).
 * Removing containers keeps volumes, so a removal is disruptive (it stops serving), not destructive.
 */
export function planServices(
  desired: DesiredComposeService[],
  actual: Map<string, ObservedService>,
  options: ComposePlanOptions = {},
): Change<DesiredComposeService, ObservedService>[] {
  const phases = { start: "runtime-start", remove: "runtime-stop", ...options.phases } as const;
  const out: Change<DesiredComposeService, ObservedService>[] = [];
  for (const d of desired) {
    const a = actual.get(d.name);
    const fields = diffService(d, a);
    if (fields.length === 0) continue;
    const base = { ref: { kind: SERVICE_KIND, name: d.name }, desired: d, scope: d.scope, ...(a ? { actual: a } : {}) };
    if (d.state === "removed") {
      out.push({
        ...base,
        action: "delete",
        phase: phases.remove,
        fields,
        risk: isRunning(a) ? "disruptive" : "safe",
        reason: "retire: stop and remove its containers so a dockerd restart cannot revive them",
      });
      continue;
    }
    const creating = !a || a.containers.length === 0;
    const recreating = fields.some((f) => f.field === "configHash");
    out.push({
      ...base,
      action: creating ? "create" : "update",
      phase: phases.start,
      fields,
      // Recreating a running container interrupts it; starting a stopped one does not.
      risk: recreating && isRunning(a) ? "disruptive" : "safe",
      reason: creating ? "create and start" : recreating ? "configuration changed: recreate" : isAdoption(fields) ? "take over the running service as it is" : "start",
    });
  }
  return out;
}
