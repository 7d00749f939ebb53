import { rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../cli/program.js";
import { edit, EXAMPLE, tempRepo } from "../helpers/temp-repo.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { o: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("tack validate", () => {
  it("accepts the islandflow example with a one-line summary", async () => {
    const c = capture();
    expect(await runCli(["validate", EXAMPLE], c.o)).toBe(0);
    expect(c.out).toHaveLength(1);
    expect(c.out[0]).toMatch(/^valid: vps-1 \(tack\.yaml\): 4 scopes, 4 units, 4 compose services, 2 proxy hosts/);
    expect(c.err).toEqual([]);
  });

  it("reports all five mistakes with file:line and exits 1", async () => {
    const repo = await tempRepo();
    const y = path.join(repo, "tack.yaml");
    await edit(y, "  api:\n    owner: docker", "  api:\n    owner: natve"); // 1: enum typo
    await rm(path.join(repo, "units/islandflow-workers.service")); // 2: missing unit file
    await edit(y, "scope: api, websockets: true }", "scope: apii, websockets: true }"); // 3: proxy host naming no scope
    await edit(y, "native: { units: [islandflow-web.service], port: 3000 }", "native: { units: [islandflow-web.service], port: 4000 }"); // 4: two scopes on one port
    await edit(y, "- { name: flow.example.org,", "- { name: flow.example.com,"); // 5: record outside the zone
    const c = capture();
    expect(await runCli(["validate", repo], c.o)).toBe(1);
    const text = c.err.join("\n");
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ scopes\.api\.owner: must be one of native, docker, none \(got "natve"\)$/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ scopes\.workers\.native\.units\[0\]: unit file missing or refused: file "units\/islandflow-workers\.service" does not exist in the repo$/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ edge\.proxyHosts\[1\]\.scope: names no scope "apii"/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ scopes\.web\.native\.port: port 4000 is claimed by scope "api" too$/m);
    expect(text).toMatch(/^tack\.yaml:\d+:\d+ dns\.records\[0\]\.name: flow\.example\.com is outside the zone example\.org$/m);
    expect(text).toMatch(/invalid: 5 error\(s\)/);
  });

  it("points at the right line and column", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: natve");
    const c = capture();
    await runCli(["validate", repo], c.o);
    const lines = (await import("node:fs")).readFileSync(path.join(repo, "tack.yaml"), "utf8").split("\n");
    const m = /^tack\.yaml:(\d+):(\d+) /.exec(c.err[0]!)!;
    expect(lines[Number(m[1]) - 1]!.slice(Number(m[2]) - 1)).toBe("natve");
  });

  it("prints usage and exits 1 on an unknown command or flag; --help exits 0", async () => {
    let c = capture();
    expect(await runCli(["frobnicate"], c.o)).toBe(1);
    expect(c.err.join("\n")).toMatch(/unknown command 'frobnicate'[\s\S]*Usage: tack/);
    c = capture();
    expect(await runCli(["validate", "--bogus"], c.o)).toBe(1);
    expect(c.err.join("\n")).toMatch(/unknown option '--bogus'[\s\S]*Usage: tack validate/);
    c = capture();
    expect(await runCli(["validate", "--help"], c.o)).toBe(0);
    expect(c.out.join("\n")).toMatch(/Usage: tack validate/);
  });

  it("gives JSON for tools", async () => {
    const c = capture();
    expect(await runCli(["validate", EXAMPLE, "--format", "json"], c.o)).toBe(0);
    expect(JSON.parse(c.out.join("\n"))).toMatchObject({ valid: true, hosts: ["vps-1"], findings: [] });
  });
});
