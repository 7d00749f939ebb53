import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateCache } from "./state-cache.js";

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "tack-state-cache-"));
  file = path.join(dir, "cache", "x.json");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("StateCache", () => {
  it("an entry set by one process is read by the next (a new instance on the same file)", () => {
    new StateCache(file).set("k", "v");
    expect(new StateCache(file).get("k")).toBe("v");
    expect(new StateCache(file).get("other")).toBeUndefined();
  });

  it("two writers merge: neither loses the other's entries written before its own write", () => {
    const a = new StateCache(file);
    const b = new StateCache(file);
    expect(a.get("x")).toBeUndefined(); // both loaded the empty file
    expect(b.get("x")).toBeUndefined();
    a.set("a", "1");
    b.set("b", "2");
    const c = new StateCache(file);
    expect([c.get("a"), c.get("b")]).toEqual(["1", "2"]);
  });

  it("keeps at most `max` entries, dropping the oldest written", () => {
    const c = new StateCache(file, 2);
    c.set("1", "a");
    c.set("2", "b");
    c.set("3", "c");
    const again = new StateCache(file, 2);
    expect([again.get("1"), again.get("2"), again.get("3")]).toEqual([undefined, "b", "c"]);
  });

  it("a corrupt or foreign file reads as empty and is replaced by the next write", () => {
    new StateCache(file).set("seed", "s"); // creates the directory
    writeFileSync(file, "{not json");
    const c = new StateCache(file);
    expect(c.get("seed")).toBeUndefined();
    c.set("k", "v");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ k: "v" });
    writeFileSync(file, JSON.stringify({ k: 1, j: "ok" }));
    expect(new StateCache(file).get("k")).toBeUndefined();
    expect(new StateCache(file).get("j")).toBe("ok");
  });

  it("an unwritable state dir keeps the entry in memory and throws nothing", () => {
    writeFileSync(path.join(dir, "cache"), "a file where the directory should be");
    const c = new StateCache(file);
    c.set("k", "v");
    expect(c.get("k")).toBe("v");
    expect(new StateCache(file).get("k")).toBeUndefined();
  });
});
