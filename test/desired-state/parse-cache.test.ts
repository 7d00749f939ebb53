import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadDesiredState, loadRepo } from "../../desired-state/index.js";
import { edit, tempRepo } from "../helpers/temp-repo.js";

describe("parsed desired-state files are shared by content", () => {
  it("an unchanged file is parsed once; an edit is seen at once; the shared document cannot be changed", async () => {
    const repo = await tempRepo();
    const first = await loadRepo(repo);
    const again = await loadRepo(repo);
    expect(again.hosts[0]!.doc).toBe(first.hosts[0]!.doc); // same content → the same parsed document
    expect(() => {
      (first.hosts[0]!.doc.scopes as Record<string, unknown>).extra = {};
    }).toThrow(TypeError);

    await edit(path.join(repo, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: native");
    const edited = await loadRepo(repo);
    expect(edited.hosts[0]!.doc).not.toBe(first.hosts[0]!.doc);
    expect(edited.hosts[0]!.doc.scopes.api!.owner).toBe("native");
    expect(first.hosts[0]!.doc.scopes.api!.owner).toBe("docker");

    // Rollback's owner override works on a copy, never on the shared document.
    const r = await loadDesiredState(repo, { facts: { npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" }, owners: { api: "docker" } });
    expect(r.resolved!.scopes.find((s) => s.name === "api")!.owner).toBe("docker");
    expect((await loadRepo(repo)).hosts[0]!.doc.scopes.api!.owner).toBe("native");
  });

  it("a file that failed to parse fails the same way from the cache", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: [docker");
    const a = await loadRepo(repo);
    const b = await loadRepo(repo);
    expect(a.findings.length).toBeGreaterThan(0);
    expect(b.findings).toEqual(a.findings);
  });
});
