import { basename, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { planCgroups } from "./cgroups.js";

describe("planCgroups", () => {
  it("plans one dir per mounted hierarchy, below this process's own cgroup and named for the sandbox", () => {
    const planned = planCgroups("tack-sandbox-test");
    expect(planned.length).toBeGreaterThan(0);
    expect(new Set(planned.map((p) => p.mountPoint)).size).toBe(planned.length);
    for (const p of planned) {
      expect(basename(p.sandboxDir)).toBe("tack-sandbox-test");
      expect(relative(p.mountPoint, p.sandboxDir).startsWith("..")).toBe(false);
      if (p.fsType === "cgroup") expect(p.options).not.toMatch(/(^|,)rw(,|$)/);
    }
  });
});
