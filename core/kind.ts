import type { Change } from "./changes.js";
import type { Driver } from "./driver.js";
import type { Finding } from "./findings.js";
import type { ResourceKind } from "./refs.js";
import type { StateProbe } from "./probe.js";
import type { DesiredByKind, ResolvedHost } from "./resources.js";

/**
 * What the planner needs to know about one kind, beyond the Driver contract. The registry
 * (kinds/index.ts) is the one place that builds these from the drivers; the planner, guards and
 * executor only ever see this interface.
 */
export interface KindHandler<D = unknown, A = unknown> {
  kind: ResourceKind;
  /** Pure: the changes that bring `actual` to `desired` (the driver's plan). */
  plan(desired: D[], actual: Map<string, A>): Change<D, A>[];
  /** Pure: what the plan must report but will not change (unmanaged resources, conflicts). */
  findings?(desired: D[], actual: Map<string, A>, host: ResolvedHost): Finding[];
  /** Runtime kinds: is this observed resource serving (unit active, container running)? */
  serving?(actual: A): boolean;
  /** Runtime kinds, live: a cheap state probe for health gates, and the evidence a failed gate reports. */
  gate?(desired: D[]): GateProbe;
  /** Does tack own this observed resource (counts for the blast radius)? */
  owned?(actual: A): boolean;
  /** Pure: what the host would look like if `desired` had been applied (offline and PR plans). */
  assumeConverged(desired: D): A;
  /** Live only: the driver doing I/O. Absent in offline plans. */
  driver?: Driver<D, A>;
}

export interface GateProbe {
  state: StateProbe;
  evidence(): Promise<{ state: string[]; logs: string[] }>;
}

export type KindHandlers = { [K in ResourceKind]?: KindHandler<DesiredByKind[K][number], unknown> };
export type ObservedByKind = { [K in ResourceKind]?: Map<string, unknown> };
