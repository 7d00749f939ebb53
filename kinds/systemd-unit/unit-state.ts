import type { StateProbe } from "../../core/probe.js";
import type { SystemdDriver } from "./systemd-driver.js";
import { isActive, type ObservedUnit } from "./unit-plan.js";

/**
 * State probes and evidence from systemd itself: are the units active? Used by the `state` health check and by a
 * failed gate's evidence (each unit's state and its last log lines).
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
