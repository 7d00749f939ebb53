import type { Change, FieldChange } from "./changes.js";
import type { ResourceKind, ResourceRef } from "./refs.js";

/**
 * What every driver promises (design.md "Core contract"):
 * - observe is read-only and batched: one call (or a fixed handful) per kind, whatever the count;
 * - diff and plan are pure: the same inputs give the same changes, and no I/O happens there;
 * - apply carries out changes of one kind and one phase, batched (one daemon-reload, one DNS batch);
 * - convergence: after apply, observe again, and plan returns no change.
 * All I/O of a driver lives in one file; the pure parts live beside it.
 */
export interface Driver<Desired, Actual> {
  readonly kind: ResourceKind;
  observe(desired: Desired[]): Promise<Map<string, Actual>>;
  diff(desired: Desired | undefined, actual: Actual | undefined): FieldChange[];
  plan(desired: Desired[], actual: Map<string, Actual>): Change<Desired, Actual>[];
  apply(changes: Change<Desired, Actual>[]): Promise<void>;
}

export type AnyDriver = Driver<unknown, unknown>;

export function refOf(kind: ResourceKind, name: string): ResourceRef {
  return { kind, name };
}
