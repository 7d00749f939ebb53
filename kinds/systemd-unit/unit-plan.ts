import { createHash } from "node:crypto";
import type { Change, FieldChange, Phase, Risk } from "../../core/changes.js";
import { maxRisk } from "../../core/changes.js";
import type { Finding } from "../../core/findings.js";
import type { DesiredSystemdUnit } from "../../core/resources.js";

/**
 * The systemd driver's pure half: what a unit looks like on the host, and which changes bring it to the
 * desired state. No I/O here (units/systemd-driver.ts does it all).
 */

/** One unit as observed: `systemctl show` properties plus the file tack would install. */
export interface ObservedUnit {
  name: string;
  loadState: string;
  activeState: string;
  subState: string;
  unitFileState: string;
  fragmentPath: string;
  /** Where tack installs this unit's file (the scope's unit directory). */
  filePath: string;
  /** sha256 of the file at filePath; undefined when there is none. */
  contentHash: string | undefined;
  /** tack's inventory lists this unit as installed by tack. */
  installedByTack: boolean;
}

export const UNIT_KIND = "systemd.unit" as const;

export function contentHash(content: string): string {
  return createHash("sha256").update(content).digest("hex");
}

/** Activating/reloading count as running: stopping them is what a retire means. */
export function isActive(u: Pick<ObservedUnit, "activeState">): boolean {
  return u.activeState === "active" || u.activeState === "activating" || u.activeState === "reloading";
}

// `static`/`indirect`/`generated` units have no [Install] to act on: enable/disable would never converge.
const NOT_ENABLEABLE = new Set(["static", "indirect", "generated", "transient"]);

export function isEnabled(u: Pick<ObservedUnit, "unitFileState">): boolean {
  return u.unitFileState === "enabled" || u.unitFileState === "enabled-runtime" || u.unitFileState === "alias";
}

export function enablementManaged(u: ObservedUnit | undefined): boolean {
  return !u || !NOT_ENABLEABLE.has(u.unitFileState);
}

/** A unit counts as present when its file is in tack's unit directory. */
export function isPresent(u: ObservedUnit | undefined): boolean {
  return u?.contentHash !== undefined;
}

/**
 * Field differences, in the fields `present`, `content`, `enabled`, `active`. `content` is compared by hash
 * (from/to are short hashes: a plan never shows unit file bodies).
 */
export function diffUnit(desired: DesiredSystemdUnit | undefined, actual: ObservedUnit | undefined): FieldChange[] {
  const out: FieldChange[] = [];
  const present = isPresent(actual);
  const active = actual ? isActive(actual) : false;
  const enabled = actual ? isEnabled(actual) : false;
  if (!desired || !desired.present) {
    // Removal: only a unit tack installed is ever touched.
    if (present && actual?.installedByTack) {
      out.push({ field: "present", from: true, to: false });
      if (active) out.push({ field: "active", from: true, to: false });
      if (enabled) out.push({ field: "enabled", from: true, to: false });
    }
    return out;
  }
  if (!present) out.push({ field: "present", from: false, to: true });
  const want = contentHash(desired.file.content);
  if (actual?.contentHash !== want) {
    out.push({ field: "content", from: short(actual?.contentHash), to: short(want) });
  } else if (!actual.installedByTack) {
    // The same file, put there by hand (or by `tack import`): tack takes it over without rewriting or restarting it,
    // so that it is tack's to prune later. A differing file is taken over by the install itself.
    out.push({ field: "ownership", from: "unmanaged", to: "adopted" });
  }
  if (enablementManaged(actual) && desired.enabled !== enabled) {
    out.push({ field: "enabled", from: enabled, to: desired.enabled });
  }
  if (desired.active !== active) out.push({ field: "active", from: active, to: desired.active });
  return out;
}

function short(hash: string | undefined): string | undefined {
  return hash?.slice(0, 12);
}

export interface UnitPlanOptions {
  /** Phase overrides (the reconciler decides e.g. runtime-retire for an overlap handoff's old owner). */
  phases?: Partial<Record<"start" | "stop" | "remove", Phase>>;
}

/**
 * Changes per unit. One unit may get two changes: its stopping fields (active→false, enabled→false) in the
 * stop phase and its starting fields (install, content, enable, start) in the start phase. A change's
 * meaning comes from its fields, not its phase, so the reconciler may move it to another phase.
 */
export function planUnits(
  desired: DesiredSystemdUnit[],
  actual: Map<string, ObservedUnit>,
  options: UnitPlanOptions = {},
): Change<DesiredSystemdUnit, ObservedUnit>[] {
  const phases = { start: "runtime-start", stop: "runtime-stop", remove: "prune", ...options.phases } as const;
  const changes: Change<DesiredSystemdUnit, ObservedUnit>[] = [];
  for (const d of desired) {
    const a = actual.get(d.name);
    const fields = diffUnit(d, a);
    if (fields.length === 0) continue;
    const ref = { kind: UNIT_KIND, name: d.name };
    const base = { ref, desired: d, scope: d.scope, ...(a ? { actual: a } : {}) };
    if (!d.present) {
      changes.push({
        ...base,
        action: "delete",
        phase: phases.remove,
        fields,
        risk: "destructive",
        reason: "unit removed from the desired state: stop, disable, delete its file",
      });
      continue;
    }
    const stopFields = fields.filter((f) => (f.field === "active" || f.field === "enabled") && f.to === false);
    const startFields = fields.filter((f) => !stopFields.includes(f));
    if (stopFields.length) {
      changes.push({
        ...base,
        action: "update",
        phase: phases.stop,
        fields: stopFields,
        risk: "disruptive",
        reason: describe(stopFields),
      });
    }
    if (startFields.length) {
      const risks: Risk[] = startFields.map((f) =>
        // A changed file on a running unit means a restart.
        f.field === "content" && a && isActive(a) && d.active ? "disruptive" : "safe",
      );
      const creating = !isPresent(a);
      changes.push({
        ...base,
        action: creating ? "create" : "update",
        phase: phases.start,
        fields: startFields,
        risk: maxRisk(risks),
        reason: creating
          ? "install unit" + (a && a.loadState === "loaded" ? ` (overrides ${a.fragmentPath || "a unit loaded elsewhere"})` : "")
          : !a?.installedByTack && startFields.some((f) => f.field === "content")
            ? `adopt a unit file tack did not install: ${describe(startFields, a)}`
            : describe(startFields, a),
      });
    }
  }
  changes.push(...pruneUnits(desired, actual, phases.remove));
  return changes;
}

/** Prune: a unit tack installed (its inventory) that the desired state no longer names is stopped, disabled, removed. */
function pruneUnits(desired: DesiredSystemdUnit[], actual: Map<string, ObservedUnit>, phase: Phase): Change<DesiredSystemdUnit, ObservedUnit>[] {
  const named = new Set(desired.map((d) => d.name));
  const out: Change<DesiredSystemdUnit, ObservedUnit>[] = [];
  for (const [name, a] of actual) {
    if (named.has(name) || !a.installedByTack || !isPresent(a)) continue;
    out.push({
      ref: { kind: UNIT_KIND, name },
      action: "delete",
      phase,
      fields: diffUnit(undefined, a),
      risk: "destructive",
      reason: "tack installed this unit and the desired state no longer names it: stop, disable, delete its file",
      actual: a,
      prune: true,
    });
  }
  return out;
}

function describe(fields: FieldChange[], a?: ObservedUnit): string {
  const words = fields.map((f) => {
    if (f.field === "content") return a && isActive(a) ? "unit file changed: restart" : "unit file changed";
    if (f.field === "enabled") return f.to ? "enable" : "disable";
    if (f.field === "active") return f.to ? "start" : "stop";
    if (f.field === "ownership") return "take over the unit file as it is (no restart)";
    return `${f.field} → ${String(f.to)}`;
  });
  return words.join(", ");
}

/** What a plan must say but cannot do: units tack will not delete because it did not install them. */
export function unitFindings(desired: DesiredSystemdUnit[], actual: Map<string, ObservedUnit>): Finding[] {
  const out: Finding[] = [];
  for (const d of desired) {
    const a = actual.get(d.name);
    if (!d.present && a && isPresent(a) && !a.installedByTack) {
      out.push({
        id: "unmanaged-unit",
        severity: "warning",
        message: `unit ${d.name} was not installed by tack: it is left in place (${a.filePath})`,
        ref: { kind: UNIT_KIND, name: d.name },
      });
    }
  }
  return out;
}

/** What apply must do, derived from the fields of a change (so a phase override keeps its meaning). */
export interface UnitActions {
  install: boolean;
  restart: boolean;
  start: boolean;
  stop: boolean;
  enable: boolean;
  disable: boolean;
  remove: boolean;
  /** Record the unit as tack's (its file is already the desired one): no write, no reload, no restart. */
  adopt: boolean;
}

export function unitActions(change: Change<DesiredSystemdUnit, ObservedUnit>): UnitActions {
  const has = (field: string, to: unknown) => change.fields.some((f) => f.field === field && f.to === to);
  const remove = change.action === "delete";
  const install = !remove && change.fields.some((f) => f.field === "content" || (f.field === "present" && f.to === true));
  const wasActive = change.actual ? isActive(change.actual) : false;
  const wantActive = change.desired?.active ?? false;
  return {
    install,
    // A changed file, or a changed secret it reads (field `restart`), restarts a running unit.
    restart: (install || change.fields.some((f) => f.field === "restart")) && wasActive && wantActive && !has("active", true),
    start: has("active", true),
    stop: has("active", false) || (remove && wasActive),
    enable: has("enabled", true),
    disable: has("enabled", false) || (remove && (change.actual ? isEnabled(change.actual) : false)),
    remove,
    adopt: !remove && has("ownership", "adopted"),
  };
}
