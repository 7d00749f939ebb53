import type { StateProbe } from "../../core/probe.js";
import type { DesiredComposeService } from "../../core/resources.js";
import type { ComposeDriver } from "./compose-driver.js";
import { isRunning, type ObservedService } from "./compose-plan.js";

/**
 * State probes and evidence from Docker itself: containers running and, when the image has a health check,
 * healthy. Used by the `state` health check and by a failed gate's evidence.
 */

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

export async function servicesEvidence(driver: ComposeDriver, services: DesiredComposeService[], lines = 15): Promise<{ state: string[]; logs: string[] }> {
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
