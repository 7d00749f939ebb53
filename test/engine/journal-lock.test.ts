import { execa } from "execa";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Journal } from "../../run/journal.js";
import { LockHeldError, StateLock } from "../../run/lock.js";
import { tempDir } from "../helpers/temp-repo.js";

describe("journal", () => {
  it("records runs, steps and revisions, and finds unfinished runs after a crash", async () => {
    const dir = await tempDir();
    const j = new Journal(dir);
    const run = j.startRun("rev1", "apply");
    const s1 = j.startStep(run, { phase: "runtime-stop", scope: "api", description: "stop", refs: ["compose.service/p/api"] });
    j.finishStep(run, s1, "done");
    j.startStep(run, { phase: "runtime-start", scope: "api", description: "start", refs: ["systemd.unit/api.service"] });
    j.close();
    // A new process opens the same state DB: the run is still marked running, its second step started only.
    const again = new Journal(dir);
    expect(again.unfinishedRuns().map((r) => r.id)).toEqual([run]);
    expect(again.steps(run).map((s) => `${s.seq}:${s.phase}:${s.status}`)).toEqual(["1:runtime-stop:done", "2:runtime-start:started"]);
    again.finishRun(run, "interrupted", "crash");
    expect(again.unfinishedRuns()).toEqual([]);
    again.setRevision("rev0", "good");
    again.setRevision("rev1", "failed", "gate");
    expect(again.lastGoodRevision()).toBe("rev0");
    again.setRevision("rev1", "good");
    expect(again.lastGoodRevision()).toBe("rev1");
    expect(again.revision("rev1")).toMatchObject({ status: "good", attempts: 2 });
    again.set("k", "v");
    expect(again.get("k")).toBe("v");
    again.set("k", undefined);
    expect(again.get("k")).toBeUndefined();
    again.close();
  });
});

describe("one tack per host", () => {
  it("a second holder is refused with the holder's pid and command", async () => {
    const dir = await tempDir();
    const lock = StateLock.acquire(dir, "tack apply /srv/repo");
    const child = await execa("node", ["--import", "tsx", "-e", `import("${path.resolve("run/lock.ts")}").then(m => { try { m.StateLock.acquire(${JSON.stringify(dir)}, "second"); console.log("acquired"); } catch (e) { console.log(e.message); } })`], { reject: false });
    expect(child.stdout).toMatch(new RegExp(`another tack holds the lock on .*: pid ${process.pid} \\(tack apply /srv/repo\\)`));
    lock.release();
    StateLock.acquire(dir, "third").release();
  });

  it("a lock left by a dead process is taken over", async () => {
    const dir = await tempDir();
    writeFileSync(path.join(dir, "tack.lock"), JSON.stringify({ pid: 2 ** 22 + 12345, host: "x", command: "crashed", since: "then" }));
    const lock = StateLock.acquire(dir, "after crash");
    lock.release();
    // A holder that is alive (pid 1 always is) keeps the lock.
    writeFileSync(path.join(dir, "tack.lock"), JSON.stringify({ pid: 1, host: "x", command: "init holds it", since: "now" }));
    expect(() => StateLock.acquire(dir, "b")).toThrow(LockHeldError);
  });
});
