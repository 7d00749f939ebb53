import { execa } from "execa";
import { cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DesiredDnsRecord } from "../../core/resources.js";
import type * as DriverModule from "../../kinds/cloudflare-record/cloudflare-driver.js";
import { planRecords } from "../../kinds/cloudflare-record/record-plan.js";
import { startCloudflareEmulator } from "../../sandbox/cloudflare-emulator/emulator.js";

/**
 * The published package, as a user gets it: `npm pack` (prepack builds dist/), the tarball installed with
 * --omit=dev into an empty directory, and the installed `tack` run from there — compiled JavaScript only (the
 * bundled CLI, scripts/build.mjs), no tsx, no sources. Needs npm and the registry (or npm's cache) for the runtime dependencies; better-sqlite3 may
 * compile on install, hence the long timeout.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
const INSTALL_TIMEOUT_MS = 600_000;

let work: string;
let tack: string;
let packed: string[];

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "tack-pack-"));
  const pack = await execa("npm", ["pack", "--json", "--pack-destination", work], { cwd: ROOT });
  // prepack's output comes before npm's JSON on stdout.
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[\n"))) as { filename: string; files: { path: string }[] }[];
  packed = info[0]!.files.map((f) => f.path);
  const app = path.join(work, "app");
  await execa("mkdir", [app]);
  await writeFile(path.join(app, "package.json"), JSON.stringify({ name: "tack-pack-test", private: true }));
  await execa("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline", path.join(work, info[0]!.filename)], { cwd: app });
  tack = path.join(app, "node_modules/.bin/tack");
  await cp(path.join(ROOT, "examples/islandflow"), path.join(work, "islandflow"), { recursive: true });
}, INSTALL_TIMEOUT_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the packed and installed package", () => {
  it("ships compiled JavaScript, the examples and the bin, and no sources, tests or sandbox", () => {
    expect(packed).toContain("bin/tack.js");
    expect(packed).toContain("dist/cli-bundle/main.js");
    expect(packed).toContain("examples/islandflow/tack.yaml");
    expect(packed.filter((f) => f.endsWith(".ts"))).toEqual([]);
    expect(packed.filter((f) => /^(dist\/)?(test|sandbox|bench|demo)\//.test(f))).toEqual([]);
  });

  it("installs without tsx (a devDependency only)", async () => {
    await expect(stat(path.join(work, "app/node_modules/tsx"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("tack --version prints package.json's version", async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await execa(tack, ["--version"]);
    expect(r.stdout.trim()).toBe(version);
  });

  it("tack validate accepts the example", async () => {
    const r = await execa(tack, ["validate", path.join(work, "islandflow")]);
    expect(r.stdout).toMatch(/^valid: vps-1 .*4 scopes/m);
  });

  it("tack plan --offline plans the example from scratch", async () => {
    const r = await execa(tack, ["plan", "--offline", "--format", "json", path.join(work, "islandflow")], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { changes: unknown[] };
    expect(plan.changes.length).toBeGreaterThan(0);
  });

  it("a bad desired state is refused with a clear error, exit 1", async () => {
    const bad = path.join(work, "bad");
    await execa("mkdir", [bad]);
    await writeFile(path.join(bad, "tack.yaml"), "apiVersion: tack/v1\nkind: Host\nspec: [\n");
    const r = await execa(tack, ["validate", bad], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/tack\.yaml/);
  });

  it("the installed Cloudflare driver (its bundled SDK client) lists, creates and reads back records, and names a bad token", async () => {
    const token = "pack-test-token-0123456789";
    const em = await startCloudflareEmulator({ token, zones: [{ name: "example.org" }] });
    try {
      const file = path.join(work, "app/node_modules/tack/dist/kinds/cloudflare-record/cloudflare-driver.js");
      const { CloudflareDriver } = (await import(file)) as typeof DriverModule;
      const make = (t: string) => new CloudflareDriver({ host: "h1", zone: "example.org", token: { env: "T" }, env: { T: t }, baseURL: em.baseURL });
      const desired: DesiredDnsRecord[] = [
        { kind: "cloudflare.record", name: "A www.example.org", zone: "example.org", type: "A", fqdn: "www.example.org", content: "203.0.113.7", proxied: true, comment: "tack:h1", adopt: false, acknowledge: [] },
      ];
      const d = make(token);
      // The plan is the kind's pure function (from source); observe and apply are the installed driver's.
      const changes = planRecords(desired, await d.observe(desired), "h1").changes;
      expect(changes.length).toBe(1);
      await d.apply(changes);
      const again = make(token);
      expect(planRecords(desired, await again.observe(desired), "h1").changes).toEqual([]);
      await expect(make("wrong-token-0123456789").observe(desired)).rejects.toThrow(/Cloudflare rejected the API token/);
    } finally {
      await em.close();
    }
  });
});
