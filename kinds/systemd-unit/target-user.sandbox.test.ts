import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, chownSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PHASES } from "../../core/changes.js";
import type { DesiredSystemdUnit } from "../../core/resources.js";
import { ExecaRunner } from "../../core/runner.js";
import { startDaemon, waitFor } from "../../sandbox/host/daemon.js";
import { busyboxUnit, desiredUnit, httpOk, mutationsSince, writeHealthDir } from "../../sandbox/runtime-fixtures.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { loadDesiredState } from "../../desired-state/index.js";
import { Journal } from "../../run/journal.js";
import { systemdUnit } from "./kind.js";
import { SystemdDriver } from "./systemd-driver.js";
import { planUnits } from "./unit-plan.js";
import { asUser, lookupUser, runtimeDirOf, type TargetUser } from "./target-user.js";

/**
 * Root driving a non-root user's manager (runtimes.native.systemd.user), as the shipped tack.service does for the
 * example's user units. The sandbox gets a user `tackdev` (uid 1500) in a private copy of /etc/passwd (this
 * sandbox's own mount namespace), with its own `systemd --user` running as uid 1500 in a cgroup delegated to it,
 * listening in /run/user/1500 as a lingering user's manager does. `tacknolinger` (uid 1501) has no manager.
 */

const host = sandbox({ parts: ["systemd"] });
const runner = new ExecaRunner();
const home = join(host.dir, "home-tackdev");
const www = writeHealthDir(join(host.dir, "target-user-www"), "user unit ok\n");
const UID = 1500;
let user: TargetUser;
let driver: SystemdDriver;

function privatePasswd(): void {
  const file = join(host.dir, "passwd");
  writeFileSync(file, readFileSync("/etc/passwd", "utf8") + `tackdev:x:${UID}:${UID}::${home}:/bin/sh\ntacknolinger:x:1501:1501::${home}-2:/bin/sh\n`);
  chmodSync(file, 0o644);
}

async function startUserManager(): Promise<void> {
  const runtime = `/run/user/${UID}`;
  mkdirSync("/run/user", { recursive: true, mode: 0o755 });
  mkdirSync(runtime, { mode: 0o700 });
  mkdirSync(home, { recursive: true });
  for (const d of [runtime, home]) chownSync(d, UID, UID);
  chmodSync(host.dir, 0o711); // the user's home is below the sandbox dir
  // A user manager needs a cgroup it may write to, as logind's user@.service gets from the system manager.
  const hierarchies = ["systemd", "unified"].filter((h) => existsSync(`/sys/fs/cgroup/${h}`));
  for (const h of hierarchies) {
    mkdirSync(`/sys/fs/cgroup/${h}/user-${UID}`, { recursive: true });
    await runner.run("chown", ["-R", `${UID}:${UID}`, `/sys/fs/cgroup/${h}/user-${UID}`]);
  }
  const join_ = hierarchies.map((h) => `echo $$ > /sys/fs/cgroup/${h}/user-${UID}/cgroup.procs`).join("; ");
  const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: home, XDG_RUNTIME_DIR: runtime };
  startDaemon("/bin/sh", ["-c", `${join_}; exec setpriv --reuid ${UID} --regid ${UID} --clear-groups /lib/systemd/systemd --user`], join(host.dir, "systemd-tackdev.log"), env);
  const log = join(host.dir, "systemd-tackdev.log");
  await waitFor(`tackdev's systemd --user (log: ${log})`, async () => existsSync(join(runtime, "systemd", "private")), 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${existsSync(log) ? readFileSync(log, "utf8").slice(-2000) : ""}`);
  });
}

async function converge(desired: DesiredSystemdUnit[]): Promise<string[]> {
  const mark = runner.history.length;
  const changes = planUnits(desired, await driver.observe(desired));
  for (const phase of PHASES) {
    const batch = changes.filter((c) => c.phase === phase);
    if (batch.length) await driver.apply(batch);
  }
  return mutationsSince(runner, mark);
}

beforeAll(async () => {
  privatePasswd();
  await runner.run("mount", ["--bind", join(host.dir, "passwd"), "/etc/passwd"]);
  await startUserManager();
  user = await lookupUser(runner, "tackdev");
  driver = new SystemdDriver({ runner, systemdScope: "user", user, stateDir: join(host.dir, "target-user-state"), startSettleMs: 300 });
}, 60_000);

afterAll(async () => {
  await runner.run("umount", ["/etc/passwd"], { okExitCodes: [0, 32] });
});

describe("root drives another user's systemd manager", () => {
  it("finds the user through NSS and puts units in their home", () => {
    expect(user).toEqual({ name: "tackdev", uid: UID, gid: UID, home });
    expect(driver.unitDir).toBe(join(home, ".config/systemd/user"));
    expect(runtimeDirOf(user)).toBe(`/run/user/${UID}`);
  });

  it("installs and starts a unit in the user's manager, owned by and running as the user; root's manager never sees it", async () => {
    const u = desiredUnit("tack-user-a.service", busyboxUnit({ description: "a", port: 18201, dir: www }));
    const ran = await converge([u]);
    const prefix = `setpriv --reuid ${UID} --regid ${UID} --init-groups -- systemctl --user`;
    expect(ran).toContain(`${prefix} enable --no-reload -- tack-user-a.service`);
    expect(ran).toContain(`${prefix} start -- tack-user-a.service`);
    expect(await httpOk("http://127.0.0.1:18201/health", 2000)).toBe(true);

    // The file and the dirs made for it belong to the user, so they can still edit their own units.
    for (const p of [driver.filePath(u.name), driver.unitDir, join(home, ".config")]) expect(statSync(p).uid).toBe(UID);
    const c = asUser(user, "systemctl", ["--user", "show", "-p", "MainPID", "--value", u.name]);
    const pid = (await runner.run(c.cmd, c.args, { env: c.env! })).stdout.trim();
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${UID}\\s`, "m"));
    const mine = await runner.run("systemctl", ["--user", "show", "-p", "LoadState", "--value", u.name]);
    expect(mine.stdout.trim()).toBe("not-found");

    expect((await driver.observe([u])).get(u.name)).toMatchObject({ activeState: "active", unitFileState: "enabled", installedByTack: true });
    expect(await converge([u])).toEqual([]);
  });

  it("runtimes.native.systemd.user reaches the same manager through the systemd.unit kind", async () => {
    const repo = join(host.dir, "user-repo");
    mkdirSync(join(repo, "units"), { recursive: true });
    const unit = busyboxUnit({ description: "a", port: 18201, dir: www });
    writeFileSync(join(repo, "units/tack-user-a.service"), unit);
    writeFileSync(join(repo, "tack.yaml"), [
      "apiVersion: tack/v1", "kind: Host", "metadata: { name: h }",
      "runtimes:", "  native: { systemd: { scope: user, user: tackdev } }",
      "scopes:", "  a: { owner: native, native: { units: [tack-user-a.service] } }", "",
    ].join("\n"));
    const resolved = (await loadDesiredState(repo)).resolved!;
    expect(resolved.systemdUser).toBe("tackdev");
    const stateDir = join(host.dir, "kind-state");
    const journal = new Journal(stateDir);
    const live = await systemdUnit.connect(resolved, { runner, stateDir, inventory: journal });
    const seen = (await live.observe(resolved.resources["systemd.unit"])).resources.get("tack-user-a.service");
    journal.close();
    // Active in tackdev's manager (root's own has no such unit); the kind records ownership in the journal, not here.
    expect(seen).toMatchObject({ activeState: "active", unitFileState: "enabled", filePath: join(home, ".config/systemd/user/tack-user-a.service") });
  });

  it("removes what it installed: stopped, disabled, file gone", async () => {
    const gone = desiredUnit("tack-user-a.service", busyboxUnit({ description: "a", port: 18201, dir: www }), { present: false });
    const ran = await converge([gone]);
    const prefix = `setpriv --reuid ${UID} --regid ${UID} --init-groups -- systemctl --user`;
    expect(ran).toEqual([`${prefix} stop -- tack-user-a.service`, `${prefix} disable -- tack-user-a.service`, `${prefix} daemon-reload`]);
    expect(existsSync(driver.filePath("tack-user-a.service"))).toBe(false);
    expect(await httpOk("http://127.0.0.1:18201/health")).toBe(false);
  });

  it("a user with no manager running: the error says to enable linger", async () => {
    const other = await lookupUser(runner, "tacknolinger");
    const d = new SystemdDriver({ runner, systemdScope: "user", user: other, stateDir: join(host.dir, "nolinger-state") });
    await expect(d.observe([desiredUnit("tack-user-b.service", "[Service]\nExecStart=/bin/true\n")])).rejects.toThrow(
      "tacknolinger's systemd manager is not running (nothing listens in /run/user/1501): run `loginctl enable-linger tacknolinger`",
    );
    await expect(lookupUser(runner, "nosuchuser")).rejects.toThrow('no user "nosuchuser" on this host');
  });
});
