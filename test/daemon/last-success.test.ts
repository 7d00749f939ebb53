import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startDaemon, type RunningDaemon } from "../../agent/daemon.js";
import { LAST_SUCCESS_KEY } from "../../agent/reconcile-record.js";
import { Journal } from "../../run/journal.js";

/** No host part is needed: the desired state is invalid, so the agent never observes or changes anything. */
describe("tack_last_success_timestamp_seconds across an agent restart", () => {
  let d: RunningDaemon | undefined;
  let base: string | undefined;
  afterEach(async () => {
    await d?.stop();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it("starts from the journal's last success, not 0, and a failed reconcile does not move it", async () => {
    base = await mkdtemp(path.join(tmpdir(), "tack-last-success-"));
    const stateDir = path.join(base, "state");
    const repo = path.join(base, "repo");
    await mkdir(repo, { recursive: true });
    await writeFile(path.join(repo, "tack.yaml"), "apiVersion: tack/v1\nkind: Host\nmetadata: {}\n");
    const earlier = Date.parse("2026-11-26T10:00:00Z");
    const seed = new Journal(stateDir);
    seed.set(LAST_SUCCESS_KEY, String(earlier));
    seed.close();

    d = await startDaemon({ repo, stateDir, listen: "127.0.0.1:0", intervalMs: 600_000, driftIntervalMs: 600_000, log: () => undefined });
    for (let i = 0; i < 100 && !d.status().ready; i++) await new Promise((r) => setTimeout(r, 100));
    expect(d.status().lastReconcile?.result).toBe("invalid");
    const text = await (await fetch(`${d.url}/metrics`)).text();
    expect(/^tack_last_success_timestamp_seconds (\S+)$/m.exec(text)?.[1]).toBe(String(earlier / 1000));
  });
});
