import type { ResourceKind } from "./refs.js";

/**
 * What tack created or adopted, per kind (Flux prunes by inventory, and so does tack). Kept in the run's journal
 * (run/journal.ts) so it survives restarts and crashes with the runs that changed it. A resource in the inventory
 * that the desired state no longer names is pruned; one that is not in it is never touched. Each entry may keep
 * what the kind needs to remove it later (a compose service's project and files, a proxy host's row id).
 */
export interface Inventory {
  /** A read-only inventory (tack plan reads the state DB without writing it): add and remove would fail. */
  readonly readonly?: boolean;
  entries(kind: ResourceKind): Map<string, string>;
  add(kind: ResourceKind, name: string, data?: string): void;
  remove(kind: ResourceKind, name: string): void;
}

/** No state DB yet (a plan on a host tack never applied to): tack owns nothing. */
export const EMPTY_INVENTORY: Inventory = {
  readonly: true,
  entries: () => new Map(),
  add: () => {
    throw new Error("the inventory is read-only here");
  },
  remove: () => {
    throw new Error("the inventory is read-only here");
  },
};
