/** The proxy-host inventory (the rows tack owns) as a small JSON file in the state dir; the journal can implement the interface later. */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "../../core/atomic-write.js";
import type { InventoryEntry, ProxyHostInventory } from "./proxy-host-plan.js";

export class FileProxyHostInventory implements ProxyHostInventory {
  constructor(private readonly file: string) {}

  async load(): Promise<InventoryEntry[]> {
    if (!existsSync(this.file)) return [];
    const parsed = JSON.parse(await readFile(this.file, "utf8")) as { hosts?: InventoryEntry[] };
    return parsed.hosts ?? [];
  }

  async save(entries: InventoryEntry[]): Promise<void> {
    const sorted = [...entries].sort((a, b) => a.id - b.id);
    await mkdir(dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, JSON.stringify({ version: 1, hosts: sorted }, null, 2) + "\n");
  }
}
