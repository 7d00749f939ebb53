import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import type * as DesiredStateModule from "../../desired-state/index.js";
import { edit, tempDir, tempRepo } from "../helpers/temp-repo.js";

/** desired-state/parsed-cache.ts: parsed files kept in the state dir, found again by a fresh process. */
type DesiredState = typeof DesiredStateModule;

/** The loader as a fresh process sees it: new module instances, so no in-memory parse is shared. */
async function freshLoader(): Promise<DesiredState> {
  vi.resetModules();
  return import("../../desired-state/index.js");
}

const cacheFile = (stateDir: string) => path.join(stateDir, "cache", "desired-state.json");

async function storedEntries(stateDir: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(cacheFile(stateDir), "utf8")) as Record<string, string>;
}

describe("the parsed desired state in the state dir", () => {
  it("a fresh process reads the parsed file back instead of parsing it; an edit misses; locations stay exact", async () => {
    const repo = await tempRepo();
    const stateDir = await tempDir();
    const first = await (await freshLoader()).loadRepo(repo, { stateDir });
    expect(first.findings).toEqual([]);
    const entries = await storedEntries(stateDir);
    expect(Object.keys(entries)).toHaveLength(1);
    expect(JSON.parse(Object.values(entries)[0]!)).toEqual(first.hosts.map((h) => h.doc));

    // Prove the next process uses the entry: tamper with the stored value, and the loader returns it.
    const [key, value] = Object.entries(entries)[0]!;
    const tampered = JSON.parse(value) as { scopes: Record<string, { owner: string }> }[];
    tampered[0]!.scopes.api!.owner = "native";
    await writeFile(cacheFile(stateDir), JSON.stringify({ [key]: JSON.stringify(tampered) }));
    const second = await (await freshLoader()).loadRepo(repo, { stateDir });
    expect(second.hosts[0]!.doc.scopes.api!.owner).toBe("native");
    // A Host read from the cache still points at its fields (the YAML is parsed again when asked).
    const text = await readFile(path.join(repo, "tack.yaml"), "utf8");
    const line = text.split("\n").findIndex((l) => l.startsWith("  api:")) + 2; // `owner:` is the line below
    expect(second.hosts[0]!.locate(["scopes", "api", "owner"])).toMatchObject({ file: "tack.yaml", line });

    // Another text is another key: the edit is parsed, whatever the cache holds.
    await edit(path.join(repo, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: docker  # edited");
    const third = await (await freshLoader()).loadRepo(repo, { stateDir });
    expect(third.hosts[0]!.doc.scopes.api!.owner).toBe("docker");
    expect(Object.keys(await storedEntries(stateDir))).toHaveLength(2);
  });

  it("a file with findings is never stored, and fails the same way in every process", async () => {
    const repo = await tempRepo();
    const stateDir = await tempDir();
    await edit(path.join(repo, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: dockerr");
    const a = await (await freshLoader()).loadDesiredState(repo, { stateDir });
    const b = await (await freshLoader()).loadDesiredState(repo, { stateDir });
    expect(a.resolved).toBeUndefined();
    expect(a.findings.some((f) => f.id === "schema" && f.location?.file === "tack.yaml")).toBe(true);
    expect(b.findings).toEqual(a.findings);
    await expect(readFile(cacheFile(stateDir), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("a damaged cache file is a miss, not an error", async () => {
    const repo = await tempRepo();
    const stateDir = await tempDir();
    const clean = await (await freshLoader()).loadDesiredState(repo, { stateDir });
    const [key] = Object.keys(await storedEntries(stateDir));
    await writeFile(cacheFile(stateDir), JSON.stringify({ [key!]: "{not json" }));
    const again = await (await freshLoader()).loadDesiredState(repo, { stateDir });
    expect(again.resolved?.scopes).toEqual(clean.resolved?.scopes);
  });
});
