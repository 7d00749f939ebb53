import type { ComposeDriver } from "../../kinds/compose-service/compose-driver.js";
import { isRunning, type ObservedService } from "../../kinds/compose-service/compose-plan.js";
import type { SystemdDriver } from "../../kinds/systemd-unit/systemd-driver.js";
import { isActive, type ObservedUnit } from "../../kinds/systemd-unit/unit-plan.js";
import type { DesiredComposeService } from "../../core/resources.js";
import type { StateProbe } from "../../core/probe.js";

/**
 * State probes and evidence from the runtimes themselves: units active; containers running and, when the
 * image has a health check, healthy. Used by the `state` health check and by failed gates' evidence.
 */

export interface RuntimeEvidence {
  state: string[];
  logs: string[];
}

/** What the unit probes need: observe units by name, and read their last log lines. */
export interface UnitSource {
  observe(names: string[]): Promise<Map<string, Pick<ObservedUnit, "activeState" | "subState">>>;
  logs(unit: string, lines: number): Promise<string[]>;
}

function systemdSource(driver: SystemdDriver): UnitSource {
  return { observe: (names) => driver.observeNames(names), logs: (unit, lines) => driver.logs(unit, lines) };
}

export function unitsStateFrom(source: UnitSource, names: string[]): StateProbe {
  return async () => {
    const seen = await source.observe(names);
    const down = names.filter((n) => !isActive(seen.get(n) ?? { activeState: "unknown" }));
    return down.length
      ? { ok: false, detail: down.map((n) => `${n} is ${seen.get(n)?.activeState}/${seen.get(n)?.subState}`).join(", ") }
      : { ok: true, detail: `${names.join(", ")} active` };
  };
}

export async function unitsEvidenceFrom(source: UnitSource, names: string[], lines = 15): Promise<RuntimeEvidence> {
  const seen = await source.observe(names);
  const state = names.map((n) => `${n} is ${seen.get(n)?.activeState}/${seen.get(n)?.subState}`);
  const logs = (await Promise.all(names.map((n) => source.logs(n, lines)))).flat();
  return { state, logs };
}

export function unitsState(driver: SystemdDriver, names: string[]): StateProbe {
  return unitsStateFrom(systemdSource(driver), names);
}

export function unitsEvidence(driver: SystemdDriver, names: string[], lines = 15): Promise<RuntimeEvidence> {
  return unitsEvidenceFrom(systemdSource(driver), names, lines);
}

/** Containers only (one `docker ps` per project): a probe must be cheaper than its interval. */
async function observeServices(driver: ComposeDriver, services: DesiredComposeService[]): Promise<ObservedService[]> {
  const containers = await driver.observeContainers(services);
  return services.map((s) => ({
    name: s.name,
    project: s.project,
    service: s.service,
    defined: true,
    expectedHash: undefined,
    image: undefined,
    containers: containers.get(s.name) ?? [],
  }));
}

export function servicesState(driver: ComposeDriver, services: DesiredComposeService[]): StateProbe {
  return async () => {
    const bad = (await observeServices(driver, services)).filter((s) => !serving(s));
    return bad.length
      ? { ok: false, detail: bad.map(describeService).join(", ") }
      : { ok: true, detail: `${services.map((s) => s.name).join(", ")} running` };
  };
}

export async function servicesEvidence(driver: ComposeDriver, services: DesiredComposeService[], lines = 15): Promise<RuntimeEvidence> {
  const seen = await observeServices(driver, services);
  const logs = (await Promise.all(seen.map((s) => driver.logs(s, lines)))).flat();
  return { state: seen.map(describeService), logs };
}

/** Running, and healthy when the image has a health check. */
export function serving(s: ObservedService): boolean {
  return isRunning(s) && s.containers.every((c) => c.health === undefined || c.health === "healthy");
}

export function describeService(s: ObservedService): string {
  if (s.containers.length === 0) return `${s.name} has no container`;
  return s.containers.map((c) => `${s.name} ${c.name} is ${c.state} (${c.status})`).join(", ");
}
