import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ExecaRunner } from "../../core/runner.js";
import { Journal } from "../../run/journal.js";
import { applyRevision, planLive, resolveLive, type ReconcileContext } from "../../run/reconcile.js";
import { startCloudflareEmulator, type CloudflareEmulator } from "../../sandbox/cloudflare-emulator/emulator.js";
import { tempDir } from "../helpers/temp-repo.js";

let cf: CloudflareEmulator | undefined;
afterEach(async () => {
  await cf?.close();
  cf = undefined;
});

describe("DNS is observed no more often than its poll interval, across reconciles", () => {
  it("repeated plans reuse the zone listing; an apply forces a fresh one", async () => {
    cf = await startCloudflareEmulator({ token: "tok-123", zones: [{ name: "example.org" }] });
    const dir = await tempDir();
    const repo = path.join(dir, "repo");
    await mkdir(repo);
    await writeFile(
      path.join(repo, "tack.yaml"),
      `apiVersion: tack/v1\nkind: Host\nmetadata: { name: dns-only }\ndns:\n  cloudflare: { zone: example.org, token: { env: CF_TOKEN_T } }\n  records:\n    - { name: www.example.org, type: A, content: 192.0.2.1, proxied: true }\n`,
    );
    const env = { ...process.env, CF_TOKEN_T: "tok-123", CLOUDFLARE_BASE_URL: cf.baseURL };
    const journal = new Journal(path.join(dir, "state"));
    const ctx: ReconcileContext = { runner: new ExecaRunner(), stateDir: path.join(dir, "state"), journal, env };
    const lists = () => cf!.log.filter((r) => r.method === "GET" && r.path.endsWith("/dns_records")).length;
    const saved = process.env.CLOUDFLARE_BASE_URL;
    process.env.CLOUDFLARE_BASE_URL = cf.baseURL;
    try {
      const resolved = await resolveLive(repo, ctx);
      for (let i = 0; i < 3; i++) expect((await planLive(resolved, "r1", ctx)).plan.changes).toHaveLength(1);
      expect(lists()).toBe(1);
      expect((await applyRevision({ dir: repo, revision: "r1" }, ctx)).status).toBe("applied");
      const before = lists();
      expect((await planLive(resolved, "r1", ctx)).plan.changes).toEqual([]); // sees its own write: the apply invalidated the cache
      expect(lists()).toBe(before + 1);
      await planLive(resolved, "r1", ctx);
      expect(lists()).toBe(before + 1);
    } finally {
      process.env.CLOUDFLARE_BASE_URL = saved;
      journal.close();
    }
  });
});
