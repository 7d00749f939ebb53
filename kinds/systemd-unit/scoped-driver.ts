import type { Change } from "../../core/changes.js";
import type { DesiredSystemdUnit, SystemdScope } from "../../core/resources.js";
import type { SystemdDriver } from "./systemd-driver.js";
import type { ObservedUnit } from "./unit-plan.js";

/** Units of both systemd managers behind one driver: each unit goes to the manager of its scope. */
export class SystemdScopesDriver {
  constructor(private readonly byScope: Record<SystemdScope, SystemdDriver>) {}

  private split<T extends { systemdScope: SystemdScope }>(items: T[]): [SystemdScope, T[]][] {
    return (["system", "user"] as const).map((s) => [s, items.filter((i) => i.systemdScope === s)] as [SystemdScope, T[]]).filter(([, l]) => l.length > 0);
  }

  async observe(desired: DesiredSystemdUnit[]): Promise<Map<string, ObservedUnit>> {
    const out = new Map<string, ObservedUnit>();
    for (const [scope, list] of this.split(desired)) for (const [k, v] of await this.byScope[scope].observe(list)) out.set(k, v);
    return out;
  }

  async apply(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): Promise<void> {
    for (const scope of ["system", "user"] as const) {
      const mine = changes.filter((c) => (c.desired?.systemdScope ?? "system") === scope);
      if (mine.length) await this.byScope[scope].apply(mine);
    }
  }

  async logs(unit: string, lines = 10): Promise<string[]> {
    for (const d of Object.values(this.byScope)) {
      const l = await d.logs(unit, lines).catch(() => [] as string[]);
      if (l.length) return l;
    }
    return [];
  }
}
