import { existsSync } from "node:fs";
import { rename } from "node:fs/promises";
import type { Inventory } from "../../core/inventory.js";
import { FileProxyHostInventory } from "./inventory-file.js";
import type { InventoryEntry, ProxyHostInventory } from "./proxy-host-plan.js";

/**
 * The NPM rows tack created or adopted, in the journal's inventory (kind npm.proxyHost, one entry per row id).
 * A state dir from before the journal kept them in `npm/npm-proxy-hosts.json`: taken over once, then renamed.
 */
export function journalProxyHostInventory(inventory: Inventory, legacyFile: string): ProxyHostInventory {
  const KIND = "npm.proxyHost" as const;
  /** Legacy entries: taken over (file renamed), or only read when the inventory is read-only (a plan). */
  const migrate = async (): Promise<InventoryEntry[]> => {
    if (!existsSync(legacyFile) || inventory.entries(KIND).size > 0) return [];
    const entries = await new FileProxyHostInventory(legacyFile).load();
    if (inventory.readonly) return entries;
    await write(entries);
    await rename(legacyFile, `${legacyFile}.migrated`);
    return [];
  };
  const write = async (entries: InventoryEntry[]) => {
    const keep = new Set(entries.map((e) => `#${e.id}`));
    for (const name of inventory.entries(KIND).keys()) if (!keep.has(name)) inventory.remove(KIND, name);
    for (const e of entries) inventory.add(KIND, `#${e.id}`, JSON.stringify({ domains: e.domains, origin: e.origin }));
  };
  return {
    async load() {
      const legacy = await migrate();
      if (legacy.length) return legacy;
      return [...inventory.entries(KIND)].map(([name, data]) => ({ id: Number(name.slice(1)), ...(JSON.parse(data) as Omit<InventoryEntry, "id">) }));
    },
    async save(entries) {
      await write(entries);
    },
  };
}
