import type { Change } from "../../core/changes.js";
import type { ApplyReport } from "../../core/kind.js";
import type { DesiredSystemdUnit, SystemdScope } from "../../core/resources.js";
import type { SystemdDriver } from "./systemd-driver.js";
import type { ObservedUnit } from "./unit-plan.js";

/** Units of both systemd managers behind one driver: each unit goes to the manager of its scope. */
export class SystemdScopesDriver {
  /** The manager each observed unit was found in: a pruned unit has no desired scope to go by. */
  private readonly scopeOf = new Map<string, SystemdScope>();

  constructor(private readonly byScope: Record<SystemdScope, SystemdDriver>) {}

  /**
   * The desired units and those tack installed and no longer wants (prune removes them), in both managers: one may
   * hold only the latter (a manager with neither runs nothing).
   */
  async observe(desired: DesiredSystemdUnit[]): Promise<Map<string, ObservedUnit>> {
    const out = new Map<string, ObservedUnit>();
    for (const scope of ["system", "user"] as const) {
      const driver = this.byScope[scope];
      const names = new Set(desired.filter((d) => d.systemdScope === scope).map((d) => d.name));
      for (const n of await driver.installed()) names.add(n);
      for (const [k, v] of await driver.observeNames([...names])) {
        out.set(k, v);
        this.scopeOf.set(k, scope);
      }
    }
    return out;
  }

  /** Each manager prepares its own units (SystemdDriver.prepare). */
  async prepare(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): Promise<void> {
    for (const [scope, mine] of this.byManager(changes)) await this.byScope[scope].prepare(mine);
  }

  /** Each manager's batch in turn; their settle waits run side by side. */
  async apply(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): Promise<ApplyReport> {
    const settles: (() => Promise<void>)[] = [];
    for (const [scope, mine] of this.byManager(changes)) {
      const report = await this.byScope[scope].applyUnsettled(mine);
      if (report.settle) settles.push(report.settle);
    }
    return { warnings: [], ...(settles.length ? { settle: async () => void (await Promise.all(settles.map((s) => s()))) } : {}) };
  }

  private byManager(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): [SystemdScope, Change<DesiredSystemdUnit, ObservedUnit>[]][] {
    const out: [SystemdScope, Change<DesiredSystemdUnit, ObservedUnit>[]][] = [];
    for (const scope of ["system", "user"] as const) {
      const mine = changes.filter((c) => (c.desired?.systemdScope ?? this.scopeOf.get(c.ref.name) ?? "system") === scope);
      if (mine.length) out.push([scope, mine]);
    }
    return out;
  }

  async logs(unit: string, lines = 10): Promise<string[]> {
    for (const d of Object.values(this.byScope)) {
      const l = await d.logs(unit, lines).catch(() => [] as string[]);
      if (l.length) return l;
    }
    return [];
  }
}
