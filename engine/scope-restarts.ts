import type { PlannedChange } from "../core/changes.js";
import type { ObservedByKind } from "../core/kind.js";
import type { ResolvedHost } from "../core/resources.js";
import { runtimeKind } from "../kinds/index.js";

/**
 * A change that must restart its scope's runtime (`restartsScope`: a rewritten secret its units or services read)
 * gets that restart in the scope's runtime-start, from the owner's runtime kind: the same step, phase and health gate
 * as a changed unit file or compose file, so a failed gate rolls the secret back with the rest of the run.
 */
export function addScopeRestarts(host: ResolvedHost, changes: PlannedChange[], observed: ObservedByKind): PlannedChange[] {
  const scopes = new Set(changes.filter((c) => c.restartsScope && c.scope).map((c) => c.scope!));
  if (scopes.size === 0) return changes;
  const out = [...changes];
  for (const s of host.scopes) {
    if (!scopes.has(s.name) || s.owner === "none") continue;
    const kind = runtimeKind(s.owner);
    const names = new Set((s.owner === "native" ? s.native : s.docker)?.resources ?? []);
    const seen = observed[kind.kind]?.resources;
    for (const d of kind.desired(host).filter((x) => names.has(x.name))) {
      const i = out.findIndex((c) => c.ref.kind === kind.kind && c.ref.name === d.name && c.phase === "runtime-start");
      const r = kind.runtime!.restart(d, seen?.get(d.name), i >= 0 ? out[i] : undefined);
      if (!r) continue;
      if (i >= 0) out[i] = r as PlannedChange;
      else out.push(r as PlannedChange);
    }
  }
  return out;
}
