import { rename } from "node:fs/promises";
import type { Inventory } from "../../core/inventory.js";
import { JsonFileUnitInventory } from "./systemd-driver.js";
import type { UnitInventory } from "./unit-inventory.js";

/**
 * The units tack installed, kept in the journal's inventory (kind systemd.unit, names `<scope>/<unit>`). A state
 * dir from before the journal kept them in `units/<scope>/units-inventory.json`: those are taken over once, then
 * renamed, so an upgrade never forgets what tack owns (and never prunes what it does not).
 */
export function journalUnitInventory(inventory: Inventory, legacyDirs: string[]): UnitInventory {
  let migrated: Promise<Set<string>> | undefined;
  /** The legacy entries; taken over (and their file renamed) unless the inventory is read-only (a plan). */
  const migrate = () =>
    (migrated ??= (async () => {
      const all = new Set<string>();
      for (const dir of legacyDirs) {
        const legacy = new JsonFileUnitInventory(dir);
        const keys = await legacy.list().catch(() => new Set<string>());
        if (keys.size === 0) continue;
        for (const k of keys) all.add(k);
        if (inventory.readonly) continue;
        for (const k of keys) inventory.add("systemd.unit", k);
        await rename(legacy.path, `${legacy.path}.migrated`);
      }
      return inventory.readonly ? all : new Set<string>();
    })());
  return {
    async list() {
      const legacy = await migrate();
      return new Set([...legacy, ...inventory.entries("systemd.unit").keys()]);
    },
    async add(key) {
      await migrate();
      inventory.add("systemd.unit", key);
    },
    async remove(key) {
      await migrate();
      inventory.remove("systemd.unit", key);
    },
  };
}
