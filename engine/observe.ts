import type { DriversByKind, LiveContext, ObservedByKind } from "../core/kind.js";
import type { ResourceKind } from "../core/refs.js";
import type { ResolvedHost } from "../core/resources.js";
import { KINDS } from "../kinds/index.js";

/**
 * The live side of a plan: connect each kind the host manages, and observe them all at once (one batched call,
 * or a fixed handful, per kind). Kinds the host does not manage are neither connected nor observed.
 */
export async function connectKinds(host: ResolvedHost, ctx: LiveContext): Promise<DriversByKind> {
  const drivers: DriversByKind = {};
  for (const k of KINDS) if (k.manages(host)) drivers[k.kind] = await k.connect(host, ctx);
  return drivers;
}

/** `assumed`: kinds planned as converged on their desired state (assumeConverged) instead of observed. */
export async function observeKinds(host: ResolvedHost, drivers: DriversByKind, assumed: readonly ResourceKind[] = []): Promise<ObservedByKind> {
  const observed: ObservedByKind = {};
  await Promise.all(
    KINDS.map(async (k) => {
      const driver = drivers[k.kind];
      if (!driver) return;
      observed[k.kind] = assumed.includes(k.kind) ? k.assumeConverged(k.desired(host), host) : await driver.observe(k.desired(host));
    }),
  );
  return observed;
}
