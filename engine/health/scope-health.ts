import type { ResolvedHost, ResolvedScope } from "../../core/resources.js";
import type { Runner } from "../../core/runner.js";
import type { ObservedByKind } from "../../core/kind.js";
import { runtimeKind } from "../../kinds/index.js";
import { probe, type ProbeResult, type StateProbe } from "../../core/probe.js";

/**
 * One probe per scope with a declared owner, with that owner's health check, so tack_health_up follows the
 * service between cutovers and not only during health gates (a unit that dies at 3 a.m. must show up).
 * A single attempt each, all at once. A `state` check reads what the drift check just observed (no command per
 * scope); http and command checks run as in a gate. A scope owned by `none` has nothing to probe and is left out.
 */
export async function probeScopeHealth(
  host: ResolvedHost,
  observed: ObservedByKind,
  runner: Runner,
  requestTimeoutMs = 2_000,
): Promise<Map<string, ProbeResult>> {
  const owned = host.scopes.filter((s): s is ResolvedScope & { owner: "native" | "docker" } => s.owner === "native" || s.owner === "docker");
  const results = await Promise.all(
    owned.map(async (s) => {
      const rt = s[s.owner];
      if (!rt) return undefined;
      const state = observedState(s.owner, rt.resources, observed);
      const result = await probe(rt.health, { runner, requestTimeoutMs, state });
      return [s.name, result] as const;
    }),
  );
  return new Map(results.filter((r): r is readonly [string, ProbeResult] => r !== undefined));
}

function observedState(owner: "native" | "docker", names: string[], observed: ObservedByKind): StateProbe {
  return async () => {
    const kind = runtimeKind(owner);
    const seen = observed[kind.kind]?.resources;
    const down = names.filter((n) => {
      const a = seen?.get(n);
      return a === undefined || !kind.runtime?.serving(a);
    });
    return down.length ? { ok: false, detail: `${down.join(", ")} not serving` } : { ok: true, detail: `${names.join(", ")} serving` };
  };
}
