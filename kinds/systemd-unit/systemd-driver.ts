import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Change, Phase } from "../../core/changes.js";
import { ApplyError, CommandError } from "../../core/errors.js";
import type { ApplyReport } from "../../core/kind.js";
import type { ResourceRef } from "../../core/refs.js";
import type { DesiredSystemdUnit, SystemdScope } from "../../core/resources.js";
import type { Runner } from "../../core/runner.js";
import { asUser, chownCreated, managerHint, userUnitDir, type TargetUser } from "./target-user.js";
import { inventoryKey, type UnitInventory } from "./unit-inventory.js";
import { writeFileAtomic } from "../../core/atomic-write.js";
import { UnitRejected, UnitVerifier } from "./unit-verify.js";
import {
  UNIT_KIND,
  contentHash,
  isActive,
  unitActions,
  type ObservedUnit,
} from "./unit-plan.js";

/**
 * The systemd driver's I/O: one `systemctl show` per observe, unit files written only when their content
 * differs (verified first, all in one call), one daemon-reload per apply, one systemctl call per verb.
 */

export interface SystemdDriverOptions {
  runner: Runner;
  systemdScope: SystemdScope;
  /** Default: user → $XDG_CONFIG_HOME/systemd/user or $HOME/.config/systemd/user; system → /etc/systemd/system. */
  unitDir?: string;
  /** User scope only: drive this user's manager rather than our own (root reaching a lingering user's units). */
  user?: TargetUser;
  /** Where the JSON inventory lives when no inventory is given. */
  stateDir?: string;
  inventory?: UnitInventory;
  /** How long a started unit gets before tack checks it did not fail at once (Type=simple reports late). */
  startSettleMs?: number;
  env?: NodeJS.ProcessEnv;
}

const SHOW_PROPS = "Id,LoadState,ActiveState,SubState,UnitFileState,FragmentPath";

export function defaultUnitDir(scope: SystemdScope, env: NodeJS.ProcessEnv = process.env): string {
  if (scope === "system") return "/etc/systemd/system";
  const config = env.XDG_CONFIG_HOME || join(env.HOME ?? "/root", ".config");
  return join(config, "systemd", "user");
}

/** Parse `systemctl show` output: blank-line separated blocks of Key=value, in argument order. */
export function parseShow(stdout: string): Record<string, string>[] {
  return stdout
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .filter(Boolean)
    .map((block) => {
      const props: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const eq = line.indexOf("=");
        if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1);
      }
      return props;
    });
}

/** A unit that did not reach the state asked for, with the evidence. */
export interface UnitFailure {
  unit: string;
  activeState: string;
  subState: string;
  logs: string[];
}

export class SystemdDriver {
  readonly kind = UNIT_KIND;
  readonly systemdScope: SystemdScope;
  readonly unitDir: string;
  readonly inventory: UnitInventory;
  private readonly runner: Runner;
  private readonly settleMs: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly user: TargetUser | undefined;
  private readonly verifier: UnitVerifier;

  constructor(options: SystemdDriverOptions) {
    this.runner = options.runner;
    this.systemdScope = options.systemdScope;
    this.env = options.env ?? process.env;
    if (options.user && options.systemdScope !== "user") throw new Error("SystemdDriver: a target user needs the user scope");
    this.user = options.user;
    this.unitDir = options.unitDir ?? (options.user ? userUnitDir(options.user) : defaultUnitDir(options.systemdScope, this.env));
    if (options.inventory) this.inventory = options.inventory;
    else if (options.stateDir) this.inventory = new JsonFileUnitInventory(options.stateDir);
    else throw new Error("SystemdDriver needs an inventory or a stateDir");
    this.settleMs = options.startSettleMs ?? 500;
    this.verifier = new UnitVerifier(this.runner, this.scopeArgs(), this.env.PATH);
  }

  private scopeArgs(): string[] {
    return this.systemdScope === "user" ? ["--user"] : [];
  }

  private async systemctl(args: string[], mutates: boolean, okExitCodes?: number[]) {
    const c = asUser(this.user, "systemctl", [...this.scopeArgs(), ...args]);
    try {
      return await this.runner.run(c.cmd, c.args, { mutates, ...(okExitCodes ? { okExitCodes } : {}), ...(c.env ? { env: c.env } : {}) });
    } catch (err) {
      const hint = this.user && err instanceof CommandError ? managerHint(this.user, err.stderr) : undefined;
      if (hint) throw new Error(hint, { cause: err });
      throw err;
    }
  }

  filePath(unit: string): string {
    return join(this.unitDir, unit);
  }

  async observe(desired: DesiredSystemdUnit[]): Promise<Map<string, ObservedUnit>> {
    return this.observeNames(this.namesOf(desired));
  }

  /** The units of this manager that tack installed (its inventory): what prune may remove. */
  async installed(): Promise<string[]> {
    const prefix = `${this.systemdScope}/`;
    return [...(await this.inventory.list())].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();
  }

  /** Observe units by name (the handoff and health probes use this too). */
  async observeNames(names: string[]): Promise<Map<string, ObservedUnit>> {
    const out = new Map<string, ObservedUnit>();
    if (names.length === 0) return out;
    const { stdout } = await this.systemctl(["show", "-p", SHOW_PROPS, "--", ...names], false);
    const blocks = parseShow(stdout);
    const owned = await this.inventory.list();
    for (const [i, name] of names.entries()) {
      // Blocks come in argument order; Id can differ from the name for an alias.
      const props = blocks[i] ?? {};
      const filePath = this.filePath(name);
      out.set(name, {
        name,
        loadState: props.LoadState ?? "not-found",
        activeState: props.ActiveState ?? "inactive",
        subState: props.SubState ?? "dead",
        unitFileState: props.UnitFileState ?? "",
        fragmentPath: props.FragmentPath ?? "",
        filePath,
        contentHash: await readHash(filePath),
        installedByTack: owned.has(inventoryKey(this.systemdScope, name)),
      });
    }
    return out;
  }

  private namesOf(desired: DesiredSystemdUnit[]): string[] {
    for (const d of desired) {
      if (d.systemdScope !== this.systemdScope) {
        throw new Error(`unit ${d.name} belongs to the ${d.systemdScope} manager, this driver drives ${this.systemdScope}`);
      }
    }
    return [...new Set(desired.map((d) => d.name))];
  }

  /**
   * The start changes of every scope lane of a run, before any lane runs (LiveDriver.prepare): every new unit file
   * verified in one call, before anything changes; the files of units not running installed, one daemon-reload. The
   * lanes' calls then only enable and start. A running unit's new file waits for its lane's restart: loaded now, the
   * manager would hold a definition its process does not run, and a run stopped before that lane would leave it so.
   */
  async prepare(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): Promise<void> {
    const installs = changes.filter((c) => unitActions(c).install);
    if (installs.length === 0) return;
    await this.verifyInstalls(installs, installs[0]!.phase);
    let filesChanged = false;
    for (const c of installs) {
      if (c.actual && isActive(c.actual)) continue;
      if (await this.install(c.ref.name, c.desired!.file.content)) filesChanged = true;
    }
    if (filesChanged) await this.systemctl(["daemon-reload"], true);
  }

  /** Carries the changes out and waits for started units to settle (`applyUnsettled`, then its settle). */
  async apply(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): Promise<void> {
    await (await this.applyUnsettled(changes)).settle?.();
  }

  /**
   * One batch: verify new files, stop, disable, remove, install, one daemon-reload, enable, start, restart. The wait
   * for started units to settle is returned, not awaited (ApplyReport.settle): the engine runs it beside this kind's
   * next calls and the scope's gate, so 0.5 s per call holds neither the other lanes nor this one back.
   */
  async applyUnsettled(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): Promise<ApplyReport> {
    if (changes.length === 0) return { warnings: [] };
    const phase = changes[0]!.phase;
    const applied: ResourceRef[] = [];
    const plans = changes.map((c) => ({ change: c, name: c.ref.name, act: unitActions(c) }));
    const names = (pick: (a: ReturnType<typeof unitActions>) => boolean) =>
      [...new Set(plans.filter((p) => pick(p.act)).map((p) => p.name))];
    const fail = (message: string, ref: ResourceRef | undefined, cause?: unknown): never => {
      throw new ApplyError(message, { ref, phase, cause, applied: [...applied] });
    };
    const refOf = (name: string): ResourceRef => ({ kind: UNIT_KIND, name });
    const step = async (verb: string, units: string[], options: string[] = []) => {
      if (units.length === 0) return;
      try {
        await this.systemctl([verb, ...options, "--", ...units], true);
      } catch (err) {
        const failures = verb === "start" || verb === "restart" ? await this.failures(units) : [];
        const named = failures.length ? failures : units.map((u) => ({ unit: u, activeState: "?", subState: "?", logs: [] }));
        fail(`systemctl ${verb} failed: ${describeFailures(named)}`, refOf(named[0]!.unit), err);
      }
    };

    // Verify every new file before touching anything (those prepare verified are not run again).
    const installs = plans.filter((p) => p.act.install);
    await this.verifyInstalls(installs.map((p) => p.change), phase);

    await step("stop", names((a) => a.stop));
    await step("disable", names((a) => a.disable));

    let filesChanged = false;
    for (const p of plans.filter((x) => x.act.remove)) {
      await rm(this.filePath(p.name), { force: true });
      await this.inventory.remove(inventoryKey(this.systemdScope, p.name));
      filesChanged = true;
    }
    for (const p of installs) if (await this.install(p.name, p.change.desired!.file.content)) filesChanged = true;
    for (const p of plans.filter((x) => x.act.adopt && !x.act.install)) await this.inventory.add(inventoryKey(this.systemdScope, p.name));
    if (filesChanged) await this.systemctl(["daemon-reload"], true);

    // --no-reload: the enablement symlinks matter at boot and the manager reads them at its next reload; `show`
    // reports UnitFileState from them at once (checked). The implied reload cost 0.05–0.17 s a call, serialised
    // across the scope lanes. disable keeps its reload: the manager must forget that a target wants a retired unit.
    await step("enable", names((a) => a.enable), ["--no-reload"]);
    const started = [...names((a) => a.start), ...names((a) => a.restart)];
    await step("start", names((a) => a.start));
    await step("restart", names((a) => a.restart));
    const done = () => applied.push(...plans.map((p) => p.change.ref));
    if (started.length === 0) {
      done();
      return { warnings: [] };
    }
    const settle = async () => {
      if (this.settleMs > 0) await new Promise((r) => setTimeout(r, this.settleMs));
      const failures = await this.failures(started);
      if (failures.length) fail(`unit failed to start: ${describeFailures(failures)}`, refOf(failures[0]!.unit));
      done();
    };
    return { warnings: [], settle };
  }

  /** Verifies the new files of these changes in one call; an ApplyError names the unit verify rejected. */
  private async verifyInstalls(changes: Change<DesiredSystemdUnit, ObservedUnit>[], phase: Phase): Promise<void> {
    const files = changes.map((c) => {
      const content = c.desired?.file.content;
      if (content === undefined) throw new ApplyError("no unit file content to install", { ref: c.ref, phase, applied: [] });
      return { name: c.ref.name, content };
    });
    try {
      await this.verifier.verify(files);
    } catch (err) {
      if (!(err instanceof UnitRejected)) throw err;
      throw new ApplyError(`systemd-analyze verify rejected unit ${err.unit}: ${err.message}`, { ref: { kind: UNIT_KIND, name: err.unit }, phase, cause: err, applied: [] });
    }
  }

  /** Writes a unit file when its content differs (the plan may be stale), and records it; true when written. */
  private async install(name: string, content: string): Promise<boolean> {
    const path = this.filePath(name);
    let written = false;
    if ((await readHash(path)) !== contentHash(content)) {
      // The first directory made on the way, so the target user gets it too (chownCreated).
      const created = await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, content);
      await chownCreated(this.user, path, created);
      written = true;
    }
    await this.inventory.add(inventoryKey(this.systemdScope, name));
    return written;
  }

  /** Units among `names` that are not running, with their state and last log lines. */
  async failures(names: string[]): Promise<UnitFailure[]> {
    const observed = await this.observeNames(names);
    const out: UnitFailure[] = [];
    for (const name of names) {
      const u = observed.get(name);
      if (u && isActive(u)) continue;
      out.push({
        unit: name,
        activeState: u?.activeState ?? "unknown",
        subState: u?.subState ?? "unknown",
        logs: await this.logs(name),
      });
    }
    return out;
  }

  /** Last log lines of a unit: the journal, or `systemctl status` when the manager has no journald. */
  async logs(unit: string, lines = 20): Promise<string[]> {
    try {
      // Root reads another user's unit logs from the system journal by their fields, not with --user (its own).
      const which = this.user ? [`_SYSTEMD_USER_UNIT=${unit}`, `_UID=${this.user.uid}`] : [...this.scopeArgs(), "-u", unit];
      const args = [...which, "-n", String(lines), "--no-pager", "-o", "short-iso"];
      const { stdout } = await this.runner.run("journalctl", args, { okExitCodes: [0, 1] });
      const real = stdout.split("\n").filter((l) => l.trim() && !/^-- (No entries|Journal begins|Logs begin)/.test(l) && !/No journal files/.test(l));
      if (real.length) return real;
    } catch {
      // no journalctl: fall through to status
    }
    // status exits 3 for an inactive unit and 4 for an unknown one: still useful output.
    const { stdout } = await this.systemctl(["status", "-n", String(lines), "--no-pager", "--", unit], false, [0, 1, 2, 3, 4]);
    return stdout.split("\n").filter((l) => l.trim());
  }
}

export function describeFailures(failures: UnitFailure[]): string {
  return failures
    .map((f) => `${f.unit} is ${f.activeState}/${f.subState}${f.logs.length ? `; last log lines:\n    ${f.logs.slice(-10).join("\n    ")}` : ""}`)
    .join("\n  ");
}

async function readHash(path: string): Promise<string | undefined> {
  try {
    return contentHash(await readFile(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** `<stateDir>/units-inventory.json`: `{ "units": ["user/a.service", ...] }`, written atomically. */
export class JsonFileUnitInventory implements UnitInventory {
  readonly path: string;
  constructor(stateDir: string) {
    this.path = join(stateDir, "units-inventory.json");
  }

  async list(): Promise<Set<string>> {
    try {
      const parsed = JSON.parse(await readFile(this.path, "utf8")) as { units?: unknown };
      return new Set(Array.isArray(parsed.units) ? parsed.units.filter((u): u is string => typeof u === "string") : []);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Set();
      throw err;
    }
  }

  async add(key: string): Promise<void> {
    const units = await this.list();
    if (units.has(key)) return;
    units.add(key);
    await this.write(units);
  }

  async remove(key: string): Promise<void> {
    const units = await this.list();
    if (!units.delete(key)) return;
    await this.write(units);
  }

  private async write(units: Set<string>): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify({ units: [...units].sort() }, null, 2) + "\n");
  }
}
