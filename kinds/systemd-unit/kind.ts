import path from "node:path";
import type { Change } from "../../core/changes.js";
import { observedOf, runtimePhase, type Kind } from "../../core/kind.js";
import type { DesiredSystemdUnit, ResolvedHost } from "../../core/resources.js";
import { journalUnitInventory } from "./journal-inventory.js";
import { SystemdScopesDriver } from "./scoped-driver.js";
import { SystemdDriver } from "./systemd-driver.js";
import { lookupUser } from "./target-user.js";
import { contentHash, isActive, planUnits, unitActions, unitFindings, type ObservedUnit } from "./unit-plan.js";
import { unitsEvidenceFrom, unitsStateFrom, type UnitSource } from "./unit-state.js";

/** `systemd.unit`: the native runtime of a scope, one unit file each, in the system or user manager. */

/** What a host reports for a unit that was applied as desired. */
function assumedUnit(d: DesiredSystemdUnit): ObservedUnit {
  return {
    name: d.name,
    loadState: d.present ? "loaded" : "not-found",
    activeState: d.active ? "active" : "inactive",
    subState: d.active ? "running" : "dead",
    unitFileState: d.enabled ? "enabled" : "disabled",
    fragmentPath: d.present ? d.file.path : "",
    filePath: d.file.path,
    contentHash: d.present ? contentHash(d.file.content) : undefined,
    installedByTack: d.present,
  };
}

/** Stop side: only stopping or disabling fields (a removal runs in prune, after the edge moved away). */
function isStopSide(c: Change<DesiredSystemdUnit, ObservedUnit>): boolean {
  return c.action !== "delete" && c.fields.length > 0 && c.fields.every((f) => (f.field === "active" || f.field === "enabled") && f.to === false);
}

/** A secret the unit reads changed: restart it if it runs and nothing planned restarts or starts it already. */
function restart(d: DesiredSystemdUnit, a: ObservedUnit | undefined, planned: Change<DesiredSystemdUnit, ObservedUnit> | undefined): Change<DesiredSystemdUnit, ObservedUnit> | undefined {
  if (!d.present || !d.active || !a || !isActive(a)) return undefined;
  if (planned && (unitActions(planned).restart || unitActions(planned).start)) return undefined;
  const field = { field: "restart", from: null, to: "secret changed" };
  if (planned) return { ...planned, fields: [...planned.fields, field], risk: "disruptive" };
  return { ref: { kind: "systemd.unit", name: d.name }, action: "update", phase: "runtime-start", fields: [field], risk: "disruptive", reason: "a secret it reads changed: restart", desired: d, actual: a, scope: d.scope };
}

function has(c: Change, field: string, to: unknown): boolean {
  return c.fields.some((f) => f.field === field && f.to === to);
}

function describe(c: Change<DesiredSystemdUnit, ObservedUnit>): string {
  const name = c.ref.name;
  if (c.action === "delete" || has(c, "present", false)) return `stop, disable and remove ${name}`;
  if (c.fields.length === 1 && has(c, "ownership", "adopted")) return `take over ${name} as it is (no restart)`;
  const verbs = [
    has(c, "present", true) || c.fields.some((f) => f.field === "content") ? "install" : "",
    has(c, "enabled", true) ? "enable" : has(c, "enabled", false) ? "disable" : "",
    has(c, "active", true) ? "start" : has(c, "active", false) ? "stop" : c.fields.some((f) => f.field === "restart") ? "restart" : "",
  ].filter(Boolean);
  return verbs.length ? `${verbs.join(verbs.length > 2 ? ", " : " and ").replace(/, ([^,]*)$/, " and $1")} ${name}` : `update ${name}`;
}

export const systemdUnit: Kind<DesiredSystemdUnit, ObservedUnit> = {
  kind: "systemd.unit",
  layer: "runtime",
  order: 1,
  // Always: with no unit desired, those tack installed before are still observed, to be pruned (no process runs
  // when there are neither).
  manages: () => true,
  desired: (host) => host.resources["systemd.unit"],
  plan(desired, observed, host) {
    const changes = planUnits(desired, observed.resources).map((c) => (c.action === "delete" ? c : { ...c, phase: runtimePhase(isStopSide(c), host, c.scope) }));
    return { changes, findings: unitFindings(desired, observed.resources) };
  },
  assumeConverged: (desired) => observedOf(new Map(desired.map((d) => [d.name, assumedUnit(d)]))),
  owned: (a) => a.installedByTack,
  describe,
  runtime: { owner: "native", serving: isActive, isStopSide, restart },
  async connect(host: ResolvedHost, ctx) {
    const env = ctx.env ? { env: ctx.env } : {};
    // A root agent reaching a user's manager: the user is looked up on this host, where the plan runs.
    const user = host.systemdUser ? { user: await lookupUser(ctx.runner, host.systemdUser) } : {};
    const inventory = journalUnitInventory(ctx.inventory, [path.join(ctx.stateDir, "units", "system"), path.join(ctx.stateDir, "units", "user")]);
    const units = new SystemdScopesDriver({
      system: new SystemdDriver({ runner: ctx.runner, systemdScope: "system", inventory, ...env }),
      user: new SystemdDriver({ runner: ctx.runner, systemdScope: "user", inventory, ...env, ...user }),
    });
    return {
      observe: async (desired) => observedOf(await units.observe(desired)),
      prepare: (changes) => units.prepare(changes),
      apply: (changes) => units.apply(changes),
      gate(desired) {
        const names = desired.map((d) => d.name);
        const source: UnitSource = { observe: () => units.observe(desired), logs: (unit, lines) => units.logs(unit, lines) };
        return { state: unitsStateFrom(source, names), evidence: () => unitsEvidenceFrom(source, names) };
      },
    };
  },
};
