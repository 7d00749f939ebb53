/**
 * Which unit files tack installed, so that removal never deletes a unit somebody else put there.
 * A small interface so the reconciler's journal can take over later; the JSON file implementation lives
 * with the rest of the driver's I/O in units/systemd-driver.ts.
 */
export interface UnitInventory {
  /** Keys are `<systemdScope>/<unit name>`. */
  list(): Promise<Set<string>>;
  add(key: string): Promise<void>;
  remove(key: string): Promise<void>;
}

export function inventoryKey(systemdScope: string, unit: string): string {
  return `${systemdScope}/${unit}`;
}
