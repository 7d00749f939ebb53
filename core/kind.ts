import type { Change, Phase } from "./changes.js";
import type { Finding } from "./findings.js";
import type { StateProbe } from "./probe.js";
import type { ResourceKind } from "./refs.js";
import type { Inventory } from "./inventory.js";
import type { DesiredResource, ResolvedHost } from "./resources.js";
import type { Runner } from "./runner.js";

/**
 * The one contract every resource kind fulfils (kinds/<kind>/kind.ts), and the only view the engine has of a
 * kind. The engine never branches on a kind's name: what differs between kinds lives here.
 *
 * - `plan` is pure and is the only planner: the live plan, the offline plan and the pull request plan all call it
 *   with a desired list and an observation, so the same inputs give the same changes and findings everywhere.
 * - `connect` gives the kind's I/O (observe, apply) for one host; everything else is pure.
 * - Convergence: after `apply`, observing again and planning gives no change.
 */

/** Which policy layer a kind belongs to (policy.layers, blast radius, metrics). */
export const LAYERS = ["runtime", "edge", "firewall", "dns"] as const;
export type Layer = (typeof LAYERS)[number];

/**
 * What a kind observed on the host: its resources by key, and the facts about the host its plan depends on
 * (UFW: active, default incoming policy, IPv6, sshd's ports). Both enter the plan's fingerprint, so a saved plan
 * is refused when either changed.
 */
export interface Observed<A, F = NoFacts> {
  resources: Map<string, A>;
  facts: F;
}

export type NoFacts = Record<string, never>;

export interface KindPlan<D, A> {
  changes: Change<D, A>[];
  findings: Finding[];
}

/** The runtime side of a kind that runs a scope (native units, compose services). */
export interface RuntimeTraits<D, A> {
  /** The scope owner this kind serves. */
  owner: "native" | "docker";
  /** Is this observed resource serving (unit active; container running, and healthy when it has a check)? */
  serving(actual: A): boolean;
  /** Does this change take something down (stop side) rather than bring it up? */
  isStopSide(change: Change<D, A>): boolean;
  /**
   * A file this resource reads changed (a secret of its scope): the runtime-start change that restarts it, given
   * the one already planned for it (extended), or undefined when nothing needs a restart (not running, or already
   * starting or being recreated).
   */
  restart(desired: D, actual: A | undefined, planned: Change<D, A> | undefined): Change<D, A> | undefined;
}

/** A state probe for a health gate, and the evidence a failed gate reports (states, last log lines). */
export interface GateProbe {
  state: StateProbe;
  evidence(): Promise<{ state: string[]; logs: string[] }>;
}

/**
 * What an apply that went through still has to say: warnings the step reports in its detail (CLI, journal,
 * agent log), e.g. an edge change applied but not verified because NPM offers no way to probe it.
 */
export interface ApplyReport {
  warnings: string[];
  /**
   * What is left to check once the host was changed, changing nothing more (a started unit must not fail at once:
   * systemd's settle wait). The engine starts it when the call returns, while this kind's next call may run. A
   * scope lane goes on to its gate meanwhile, and the run does not reach the edge until every lane's settle passed
   * (engine/executor.ts); a step outside the lanes waits for its own. A rejection fails the run like a failed step.
   */
  settle?: () => Promise<void>;
}

/** The I/O of one kind on one host. */
export interface LiveDriver<D, A, F = NoFacts> {
  /** Read-only and batched: one call (or a fixed handful) whatever the resource count. */
  observe(desired: D[]): Promise<Observed<A, F>>;
  /** Carries out changes of this kind and one phase, batched; may report warnings (the step still succeeds). */
  apply(changes: Change<D, A>[]): Promise<ApplyReport | void>;
  /**
   * Runtime kinds, optional: the start changes of every scope lane of this run, before any lane runs. Does ahead
   * what changes nothing that runs (systemd: verify every new unit file in one call, install those of units not
   * running, one daemon-reload), so an invalid file stops the run before any scope moved and the lanes' `apply`
   * calls are short. `apply` must still carry the same changes out in full (it skips what is already done).
   */
  prepare?(changes: Change<D, A>[]): Promise<void>;
  /** Runtime kinds: a cheap state probe of these resources, for health gates. */
  gate?(desired: D[]): GateProbe;
  /** Forget any cached observation (the Cloudflare driver keeps one for its poll interval). */
  invalidate?(): void;
}

export interface LiveContext {
  runner: Runner;
  stateDir: string;
  /** What tack created or adopted (the journal): drivers record into it, and prune reads it. */
  inventory: Inventory;
  env?: NodeJS.ProcessEnv;
  /** The host's age identity file (`--age-identity`; default in the state dir): decrypts the repo's secrets. */
  ageIdentity?: string;
}

export interface Kind<D extends { name: string }, A, F = NoFacts> {
  readonly kind: ResourceKind;
  readonly layer: Layer;
  /** Order of this kind's step among the kinds of one phase (lower first): compose stops before units start. */
  readonly order: number;
  /** Does this host's desired state manage the kind? If not, it is neither observed nor planned. */
  manages(host: ResolvedHost): boolean;
  desired(host: ResolvedHost): D[];
  /** Pure: the changes that bring `observed` to `desired`, and what the plan must report but will not change. */
  plan(desired: D[], observed: Observed<A, F>, host: ResolvedHost): KindPlan<D, A>;
  /** Pure: what a host converged on `desired` would report (offline and pull request plans diff against it). */
  assumeConverged(desired: D[], host: ResolvedHost): Observed<A, F>;
  /** Does tack own this observed resource (created or adopted it)? Only owned resources count for the blast radius. */
  owned(actual: A, host: ResolvedHost): boolean;
  /** One change in a reviewer's words: "stop and remove compose service api", "NPM a.example → host:4000". */
  describe(change: Change<D, A>, host: ResolvedHost): string;
  runtime?: RuntimeTraits<D, A>;
  /** The kind's I/O on this host (drivers may be cached across calls, e.g. Cloudflare's observation). */
  connect(host: ResolvedHost, ctx: LiveContext): Promise<LiveDriver<D, A, F>>;
}

/**
 * A kind as the engine holds it in the table. Method parameters are bivariant in TypeScript, so every typed kind
 * fits here; the engine only ever hands a kind what that same kind produced (its desired list, its observation).
 */
export type AnyKind = Kind<DesiredResource, unknown, unknown>;
export type AnyLiveDriver = LiveDriver<DesiredResource, unknown, unknown>;
export type ObservedByKind = Partial<Record<ResourceKind, Observed<unknown, unknown>>>;
export type DriversByKind = Partial<Record<ResourceKind, AnyLiveDriver>>;

/**
 * The phase of a runtime change: the start side starts; the stop side goes before the start (its scope's handoff is
 * exclusive) or after the edge moved (overlap).
 */
export function runtimePhase(stopSide: boolean, host: ResolvedHost, scope: string | undefined): Phase {
  if (!stopSide) return "runtime-start";
  return host.scopes.find((s) => s.name === scope)?.handoff === "overlap" ? "runtime-retire" : "runtime-stop";
}

/** An observation with no facts, from a plain map (kinds whose plan needs nothing but the resources). */
export function observedOf<A>(resources: Map<string, A>): Observed<A> {
  return { resources, facts: {} as NoFacts };
}
