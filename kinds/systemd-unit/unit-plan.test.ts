import { describe, expect, it } from "vitest";
import type { DesiredSystemdUnit } from "../../core/resources.js";
import { contentHash, planUnits, unitActions, unitFindings, type ObservedUnit } from "./unit-plan.js";

const CONTENT = "[Service]\nExecStart=/bin/true\n";
const OTHER = "[Service]\nExecStart=/bin/false\n";

function want(over: Partial<DesiredSystemdUnit> = {}): DesiredSystemdUnit {
  return {
    kind: "systemd.unit",
    name: "app.service",
    systemdScope: "user",
    file: { path: "units/app.service", content: CONTENT },
    present: true,
    enabled: true,
    active: true,
    scope: "api",
    ...over,
  };
}

type Have = { file?: string | null; active?: boolean; enabled?: boolean | "static"; tack?: boolean; failed?: boolean };
function have(h: Have): ObservedUnit {
  const file = h.file === undefined ? CONTENT : h.file;
  return {
    name: "app.service",
    loadState: file === null ? "not-found" : "loaded",
    activeState: h.failed ? "failed" : h.active ? "active" : "inactive",
    subState: h.failed ? "failed" : h.active ? "running" : "dead",
    unitFileState: h.enabled === "static" ? "static" : h.enabled ? "enabled" : file === null ? "" : "disabled",
    fragmentPath: file === null ? "" : "/u/app.service",
    filePath: "/u/app.service",
    contentHash: file === null ? undefined : contentHash(file),
    installedByTack: h.tack ?? true,
  };
}

interface Row {
  name: string;
  desired: Partial<DesiredSystemdUnit>;
  actual: Have | undefined;
  /** `action phase risk fields` per change, in plan order. */
  expect: string[];
  actions?: string[];
}

const rows: Row[] = [
  { name: "absent → running", desired: {}, actual: undefined, expect: ["create runtime-start safe present,content,enabled,active"], actions: ["install enable start"] },
  { name: "not loaded anywhere → running", desired: {}, actual: { file: null }, expect: ["create runtime-start safe present,content,enabled,active"] },
  { name: "converged", desired: {}, actual: { active: true, enabled: true }, expect: [] },
  { name: "converged, stopped and disabled", desired: { active: false, enabled: false }, actual: {}, expect: [] },
  { name: "stopped → started", desired: {}, actual: { enabled: true }, expect: ["update runtime-start safe active"], actions: ["start"] },
  { name: "failed → started", desired: {}, actual: { enabled: true, failed: true }, expect: ["update runtime-start safe active"], actions: ["start"] },
  { name: "disabled → enabled", desired: {}, actual: { active: true }, expect: ["update runtime-start safe enabled"], actions: ["enable"] },
  {
    name: "running, file changed → restart",
    desired: {},
    actual: { active: true, enabled: true, file: OTHER },
    expect: ["update runtime-start disruptive content"],
    actions: ["install restart"],
  },
  {
    name: "stopped, file changed → install and start, no restart",
    desired: {},
    actual: { enabled: true, file: OTHER },
    expect: ["update runtime-start safe content,active"],
    actions: ["install start"],
  },
  {
    name: "file changed, unit to stay stopped",
    desired: { active: false, enabled: false },
    actual: { file: OTHER },
    expect: ["update runtime-start safe content"],
    actions: ["install"],
  },
  { name: "running → stopped", desired: { active: false }, actual: { active: true, enabled: true }, expect: ["update runtime-stop disruptive active"], actions: ["stop"] },
  {
    name: "retire: running and enabled → stopped and disabled",
    desired: { active: false, enabled: false },
    actual: { active: true, enabled: true },
    expect: ["update runtime-stop disruptive enabled,active"],
    actions: ["stop disable"],
  },
  {
    name: "running, changed file, to be retired: stop first, install later",
    desired: { active: false, enabled: false },
    actual: { active: true, enabled: true, file: OTHER },
    expect: ["update runtime-stop disruptive enabled,active", "update runtime-start safe content"],
    actions: ["stop disable", "install"],
  },
  { name: "static unit: enablement left alone", desired: {}, actual: { active: true, enabled: "static" }, expect: [] },
  {
    name: "remove a running unit tack installed",
    desired: { present: false },
    actual: { active: true, enabled: true },
    expect: ["delete prune destructive present,active,enabled"],
    actions: ["stop disable remove"],
  },
  { name: "remove a stopped unit tack installed", desired: { present: false }, actual: {}, expect: ["delete prune destructive present"], actions: ["remove"] },
  { name: "remove a unit tack did not install: nothing", desired: { present: false }, actual: { active: true, enabled: true, tack: false }, expect: [] },
  { name: "remove an absent unit: nothing", desired: { present: false }, actual: { file: null }, expect: [] },
  { name: "remove, never observed: nothing", desired: { present: false }, actual: undefined, expect: [] },
  {
    // tack import's promise: the first apply takes the unit over without rewriting the file or restarting it.
    name: "take over a unit file tack did not install (same content): inventory only",
    desired: {},
    actual: { active: true, enabled: true, tack: false },
    expect: ["update runtime-start safe ownership"],
    actions: ["adopt"],
  },
];

describe("planUnits", () => {
  it.each(rows)("$name", (row) => {
    const d = want(row.desired);
    const actual = new Map<string, ObservedUnit>();
    if (row.actual) actual.set(d.name, have(row.actual));
    const changes = planUnits([d], actual);
    expect(changes.map((c) => `${c.action} ${c.phase} ${c.risk} ${c.fields.map((f) => f.field).join(",")}`)).toEqual(row.expect);
    if (row.actions) {
      const acts = changes.map((c) =>
        Object.entries(unitActions(c))
          .filter(([, v]) => v)
          .map(([k]) => k)
          .join(" "),
      );
      expect(acts.map((a) => a.split(" ").sort().join(" "))).toEqual(row.actions.map((a) => a.split(" ").sort().join(" ")));
    }
    for (const c of changes) expect(c.scope).toBe("api");
  });

  it("honours phase overrides (runtime-retire for an overlap handoff)", () => {
    const d = want({ active: false, enabled: false });
    const changes = planUnits([d], new Map([[d.name, have({ active: true, enabled: true })]]), { phases: { stop: "runtime-retire" } });
    expect(changes.map((c) => c.phase)).toEqual(["runtime-retire"]);
  });

  it("shows hashes, never file bodies", () => {
    const d = want();
    const [c] = planUnits([d], new Map([[d.name, have({ active: true, enabled: true, file: OTHER })]]));
    expect(c!.fields[0]).toEqual({ field: "content", from: contentHash(OTHER).slice(0, 12), to: contentHash(CONTENT).slice(0, 12) });
  });
});

describe("unitFindings", () => {
  it("says when a unit is kept because tack did not install it", () => {
    const d = want({ present: false });
    const findings = unitFindings([d], new Map([[d.name, have({ tack: false })]]));
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toMatch(/not installed by tack/);
    expect(unitFindings([d], new Map([[d.name, have({ tack: true })]]))).toEqual([]);
  });
});

describe("plan reasons", () => {
  it("says when tack adopts a hand-made file, and when an install overrides a unit loaded elsewhere", () => {
    const d = want();
    const [adopt] = planUnits([d], new Map([[d.name, have({ active: true, enabled: true, file: OTHER, tack: false })]]));
    expect(adopt!.reason).toBe("adopt a unit file tack did not install: unit file changed: restart");
    const elsewhere = { ...have({ file: null }), loadState: "loaded", fragmentPath: "/lib/systemd/user/app.service" };
    const [install] = planUnits([d], new Map([[d.name, elsewhere]]));
    expect(install!.reason).toBe("install unit (overrides /lib/systemd/user/app.service)");
  });
});
