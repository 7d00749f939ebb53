import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JsonFileUnitInventory, defaultUnitDir, parseShow } from "./systemd-driver.js";

describe("systemctl show parsing", () => {
  it("one block per unit in argument order, missing units included", () => {
    const out = [
      "Id=a.service\nLoadState=loaded\nActiveState=active\nSubState=running\nFragmentPath=/u/a.service\nUnitFileState=enabled",
      "Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nFragmentPath=\nUnitFileState=",
    ].join("\n\n");
    const blocks = parseShow(out + "\n");
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatchObject({ Id: "a.service", ActiveState: "active", UnitFileState: "enabled" });
    expect(blocks[1]).toMatchObject({ Id: "nope.service", LoadState: "not-found", FragmentPath: "" });
  });
});

describe("unit directories", () => {
  it("user scope honours XDG_CONFIG_HOME, then HOME; system scope is /etc/systemd/system", () => {
    expect(defaultUnitDir("user", { HOME: "/home/d" })).toBe("/home/d/.config/systemd/user");
    expect(defaultUnitDir("user", { HOME: "/home/d", XDG_CONFIG_HOME: "/cfg" })).toBe("/cfg/systemd/user");
    expect(defaultUnitDir("system", { HOME: "/home/d" })).toBe("/etc/systemd/system");
  });
});

describe("JsonFileUnitInventory", () => {
  const dir = mkdtempSync(join(tmpdir(), "tack-inv-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("records, lists and forgets units in <stateDir>/units-inventory.json", async () => {
    const inv = new JsonFileUnitInventory(join(dir, "state"));
    expect(await inv.list()).toEqual(new Set());
    await inv.add("user/b.service");
    await inv.add("user/a.service");
    await inv.add("user/a.service");
    expect(JSON.parse(readFileSync(join(dir, "state", "units-inventory.json"), "utf8"))).toEqual({ units: ["user/a.service", "user/b.service"] });
    await inv.remove("user/b.service");
    expect(await new JsonFileUnitInventory(join(dir, "state")).list()).toEqual(new Set(["user/a.service"]));
  });
});
