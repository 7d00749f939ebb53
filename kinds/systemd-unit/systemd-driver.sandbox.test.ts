import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplyError } from "../../core/errors.js";
import { ExecaRunner } from "../../core/runner.js";
import type { DesiredSystemdUnit } from "../../core/resources.js";
import { PHASES } from "../../core/changes.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { busyboxUnit, desiredUnit as unitOf, httpOk, mutationsSince, writeHealthDir } from "../../sandbox/runtime-fixtures.js";
import { SystemdDriver } from "./systemd-driver.js";
import { planUnits, unitFindings } from "./unit-plan.js";

const host = sandbox({ parts: ["systemd"] });
// The run's scope: user (systemd --user) or system (a real system manager booted by systemd-nspawn).
const scope = host.systemdScope ?? "user";
const sc = scope === "user" ? "systemctl --user" : "systemctl";
const scopeArgs = scope === "user" ? ["--user"] : [];
const runner = new ExecaRunner();
const stateDir = join(host.dir, "units-state");
const driver = new SystemdDriver({ runner, systemdScope: scope, stateDir, startSettleMs: 300 });
const desiredUnit = (name: string, content: string, over: Partial<DesiredSystemdUnit> = {}) => unitOf(name, content, { systemdScope: scope, ...over });
const www = writeHealthDir(join(host.dir, "units-www"), "native ok\n");
const started: string[] = [];

/** observe → plan → apply per phase; returns the mutating commands it ran. */
async function converge(desired: DesiredSystemdUnit[]): Promise<string[]> {
  const mark = runner.history.length;
  // Each call names only the units it is about: pruning the other units tack installed (what a desired state
  // no longer names) is the prune tests' subject, not these.
  const changes = planUnits(desired, await driver.observe(desired)).filter((c) => !c.prune);
  for (const phase of PHASES) {
    const batch = changes.filter((c) => c.phase === phase);
    if (batch.length) await driver.apply(batch);
  }
  return mutationsSince(runner, mark);
}

async function expectConverged(desired: DesiredSystemdUnit[]): Promise<void> {
  expect(await converge(desired)).toEqual([]);
}

beforeAll(async () => {
  // The system scope is a real system manager in a container of its own, not the user manager under another name.
  const virt = await runner.run("systemctl", [...scopeArgs, "show", "-p", "Virtualization", "--value"]);
  if (scope === "system") expect(virt.stdout.trim()).toBe("systemd-nspawn");
  expect(driver.unitDir).toBe(scope === "user" ? join(host.home!, ".config/systemd/user") : "/etc/systemd/system");
});

afterAll(async () => {
  if (started.length) await runner.run("systemctl", [...scopeArgs, "stop", ...started], { okExitCodes: [0, 1, 5] });
});

describe(`systemd driver on a real ${scope} manager`, () => {
  it("installs and starts a unit, then converges with zero mutations", async () => {
    const u = desiredUnit("tack-a.service", busyboxUnit({ description: "a", port: 18101, dir: www }));
    started.push(u.name);
    const ran = await converge([u]);
    expect(ran.filter((c) => c.includes("daemon-reload"))).toHaveLength(1);
    expect(ran).toContain(`${sc} enable --no-reload -- tack-a.service`);
    expect(ran).toContain(`${sc} start -- tack-a.service`);
    expect(await httpOk("http://127.0.0.1:18101/health")).toBe(true);
    const seen = (await driver.observe([u])).get(u.name)!;
    expect(seen).toMatchObject({ activeState: "active", unitFileState: "enabled", installedByTack: true });
    await expectConverged([u]);
  });

  it("batches verbs: two units, one daemon-reload, one start", async () => {
    const b = desiredUnit("tack-b.service", busyboxUnit({ description: "b", port: 18102, dir: www }));
    const c = desiredUnit("tack-c.service", busyboxUnit({ description: "c", port: 18103, dir: www }));
    started.push(b.name, c.name);
    const ran = await converge([b, c]);
    expect(ran.filter((x) => x.includes("daemon-reload"))).toHaveLength(1);
    expect(ran).toContain(`${sc} start -- tack-b.service tack-c.service`);
    expect(ran).toContain(`${sc} enable --no-reload -- tack-b.service tack-c.service`);
    await expectConverged([b, c]);
  });

  it("restarts a running unit exactly once when its file changes", async () => {
    const before = await runner.run("systemctl", [...scopeArgs, "show", "-p", "MainPID", "--value", "tack-a.service"]);
    const u = desiredUnit("tack-a.service", busyboxUnit({ description: "a, second edition", port: 18101, dir: www }));
    const ran = await converge([u]);
    expect(ran.filter((c) => c.includes(" restart "))).toEqual([`${sc} restart -- tack-a.service`]);
    expect(ran.filter((c) => c.includes("daemon-reload"))).toHaveLength(1);
    expect(ran.filter((c) => c.includes(" start "))).toEqual([]);
    const after = await runner.run("systemctl", [...scopeArgs, "show", "-p", "MainPID", "--value", "tack-a.service"]);
    expect(after.stdout.trim()).not.toBe(before.stdout.trim());
    expect(await httpOk("http://127.0.0.1:18101/health")).toBe(true);
    await expectConverged([u]);
  });

  it("stops and disables (a retired native owner), then converges", async () => {
    const b = desiredUnit("tack-b.service", busyboxUnit({ description: "b", port: 18102, dir: www }), { active: false, enabled: false });
    const ran = await converge([b]);
    expect(ran).toEqual([`${sc} stop -- tack-b.service`, `${sc} disable -- tack-b.service`]);
    expect(await httpOk("http://127.0.0.1:18102/health")).toBe(false);
    await expectConverged([b]);
  });

  it("removes a unit it installed: stopped, disabled, file deleted, one daemon-reload", async () => {
    const c = desiredUnit("tack-c.service", busyboxUnit({ description: "c", port: 18103, dir: www }), { present: false });
    const ran = await converge([c]);
    expect(ran).toEqual([
      `${sc} stop -- tack-c.service`,
      `${sc} disable -- tack-c.service`,
      `${sc} daemon-reload`,
    ]);
    expect(existsSync(driver.filePath(c.name))).toBe(false);
    const seen = (await driver.observe([c])).get(c.name)!;
    expect(seen).toMatchObject({ loadState: "not-found", activeState: "inactive", installedByTack: false, contentHash: undefined });
    expect(await driver.inventory.list()).not.toContain(`${scope}/tack-c.service`);
    await expectConverged([c]);
  });

  it("never deletes a unit it did not install, and the plan says so", async () => {
    const name = "hand-made.service";
    mkdirSync(driver.unitDir, { recursive: true });
    writeFileSync(driver.filePath(name), busyboxUnit({ description: "hand", port: 18104, dir: www }));
    await runner.run("systemctl", [...scopeArgs, "daemon-reload"], { mutates: true });
    const d = desiredUnit(name, "irrelevant", { present: false });
    const actual = await driver.observe([d]);
    // (the plan also prunes the units earlier tests installed, which this desired state does not name)
    expect(planUnits([d], actual).filter((c) => c.ref.name === name)).toEqual([]);
    expect(unitFindings([d], actual).map((f) => f.message)).toEqual([expect.stringMatching(/hand-made.service was not installed by tack/)]);
    expect(existsSync(driver.filePath(name))).toBe(true);
  });

  it("a unit that fails to start: error with its state and log lines", async () => {
    const u = desiredUnit("tack-fail.service", "[Service]\nExecStart=/bin/sh -c 'echo tack-boom-marker; exit 3'\n\n[Install]\nWantedBy=default.target\n");
    const err = await converge([u]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    const e = err as ApplyError;
    expect(e.ref).toEqual({ kind: "systemd.unit", name: "tack-fail.service" });
    expect(e.message).toMatch(/tack-fail.service is failed\/failed/);
    expect(e.message).toMatch(/last log lines:/);
    expect(e.message).toMatch(/status=3|tack-boom-marker/);
  });

  it("systemd-analyze verify rejects a unit whose binary is missing, before anything changes", async () => {
    const u = desiredUnit("tack-bad.service", "[Service]\nExecStart=/nonexistent/tack-bin\n");
    const mark = runner.history.length;
    const err = await converge([u]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as Error).message).toMatch(/verify rejected unit tack-bad.service/);
    expect((err as Error).message).toMatch(/nonexistent/);
    expect(mutationsSince(runner, mark)).toEqual([]);
    expect(existsSync(driver.filePath(u.name))).toBe(false);
  });

  it("prepare: one verify for every new file, the units not running installed with one daemon-reload; apply then only enables and (re)starts", async () => {
    const a = desiredUnit("tack-a.service", busyboxUnit({ description: "a, third edition", port: 18101, dir: www }));
    const d = desiredUnit("tack-d.service", busyboxUnit({ description: "d", port: 18105, dir: www }));
    const e = desiredUnit("tack-e.service", busyboxUnit({ description: "e", port: 18106, dir: www }));
    started.push(d.name, e.name);
    const changes = planUnits([a, d, e], await driver.observe([a, d, e])).filter((c) => !c.prune);
    expect(changes.every((c) => c.phase === "runtime-start")).toBe(true);
    const aBefore = readFileSync(driver.filePath(a.name), "utf8");
    const mark = runner.history.length;
    await driver.prepare(changes);
    const verifies = runner.history.slice(mark).filter((r) => r.file === "systemd-analyze");
    expect(verifies).toHaveLength(1);
    expect(verifies[0]!.args.filter((x) => x.endsWith(".service")).map((x) => basename(x)).sort()).toEqual([a.name, d.name, e.name]);
    expect(mutationsSince(runner, mark)).toEqual([`${sc} daemon-reload`]);
    expect(readFileSync(driver.filePath(d.name), "utf8")).toBe(d.file.content);
    // The running unit keeps its file until its own apply restarts it.
    expect(readFileSync(driver.filePath(a.name), "utf8")).toBe(aBefore);
    expect((await driver.observe([d])).get(d.name)).toMatchObject({ activeState: "inactive", unitFileState: "disabled", installedByTack: true });

    const mark2 = runner.history.length;
    await driver.apply(changes);
    expect(runner.history.slice(mark2).filter((r) => r.file === "systemd-analyze")).toEqual([]);
    expect(mutationsSince(runner, mark2)).toEqual([
      `${sc} daemon-reload`,
      `${sc} enable --no-reload -- tack-d.service tack-e.service`,
      `${sc} start -- tack-d.service tack-e.service`,
      `${sc} restart -- tack-a.service`,
    ]);
    expect(await httpOk("http://127.0.0.1:18105/health")).toBe(true);
    await expectConverged([a, d, e]);
  });

  it("prepare refuses a bad file among good ones, naming it, before anything changes", async () => {
    const good = desiredUnit("tack-f.service", busyboxUnit({ description: "f", port: 18107, dir: www }));
    const bad = desiredUnit("tack-bad2.service", "[Service]\nExecStart=/nonexistent/tack-bin-2\n");
    const changes = planUnits([good, bad], await driver.observe([good, bad])).filter((c) => !c.prune);
    const mark = runner.history.length;
    const err = await driver.prepare(changes).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as ApplyError).ref).toEqual({ kind: "systemd.unit", name: "tack-bad2.service" });
    expect((err as Error).message).toMatch(/verify rejected unit tack-bad2.service: .*nonexistent/s);
    expect(mutationsSince(runner, mark)).toEqual([]);
    expect(existsSync(driver.filePath(good.name))).toBe(false);
  });
});
