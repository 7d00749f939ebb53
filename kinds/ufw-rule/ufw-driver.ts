import { ApplyError, CommandError, UnsafePlanError, UserError } from "../../core/errors.js";
import { isBlocking } from "../../core/findings.js";
import type { Observed } from "../../core/kind.js";
import type { Runner } from "../../core/runner.js";
import { parseDefaults, parseRuleFiles, parseSshdPorts, type UfwRule } from "./parse-rules.js";
import {
  addArgs,
  commentProblem,
  deleteArgs,
  indexRules,
  isSymbolic,
  rulesAfter,
  sshGuard,
  type UfwChange,
  type UfwFacts,
  type UfwObservation,
} from "./rule-plan.js";
import { runUfwBatch } from "./ufw-batch.js";

/**
 * All I/O of the UFW driver, through the Runner. Observing reads UFW's rule files (works while UFW is
 * inactive), /etc/default/ufw, whether UFW's chains are loaded, and sshd's port: a fixed handful of read-only
 * commands whatever the rule count. Applying runs every change's `ufw` command (deletes by spec) in one
 * transaction through UFW's own code (ufw-batch.ts), or one `ufw` process per change with `batch: false`.
 */

export interface UfwDriverOptions {
  runner: Runner;
  ufw?: string;
  /** One transaction for all changes (default), or one `ufw` process per change. */
  batch?: boolean;
  /** The Python that runs the transaction with UFW's modules (default: the one of the `ufw` script's #! line). */
  python?: string;
  /** The iptables binary UFW drives (default `iptables` on PATH, as ufw itself finds it). */
  iptables?: string;
  rulesFile?: string;
  rules6File?: string;
  defaultsFile?: string;
  sshdConfig?: string;
  /** The live sshd port(s), when the caller knows them (HostFacts.sshPort); otherwise read from sshd. */
  sshPorts?: number[];
  allowSshLockout?: boolean;
}

export class UfwDriver {
  readonly kind = "ufw.rule" as const;
  private observation: UfwObservation | undefined;

  constructor(private readonly options: UfwDriverOptions) {}

  private get run(): Runner {
    return this.options.runner;
  }

  private async readFile(path: string): Promise<string> {
    // Read through the runner so a sandbox prefix (nsenter) sees the same mount namespace as ufw does.
    const r = await this.run.run("cat", [path], { okExitCodes: [0, 1] });
    return r.exitCode === 0 ? r.stdout : "";
  }

  /** The rules (by position) and the facts the plan needs; read-only. */
  async observe(): Promise<Observed<UfwRule, UfwFacts>> {
    const o = this.options;
    const [v4, v6, defaults, chain, sshPorts] = await Promise.all([
      this.readFile(o.rulesFile ?? "/etc/ufw/user.rules"),
      this.readFile(o.rules6File ?? "/etc/ufw/user6.rules"),
      this.readFile(o.defaultsFile ?? "/etc/default/ufw"),
      // `ufw status` decides "active" by this very check (is ufw-user-input loaded?) and reads the default
      // policy from /etc/default/ufw; asking iptables directly spares a Python start-up (~0.3 s) per observe.
      this.run.run(o.iptables ?? "iptables", ["-w", "-n", "-L", "ufw-user-input"], { okExitCodes: [0, 1] }),
      o.sshPorts ?? this.sshPorts(),
    ]);
    const def = parseDefaults(defaults);
    const rules = parseRuleFiles(v4, v6);
    const facts: UfwFacts = { active: chain.exitCode === 0, incoming: def.incoming, ipv6: def.ipv6, sshPorts };
    // Kept for apply, which checks the SSH guard again against what it is about to change.
    this.observation = { rules, ...facts };
    return { resources: indexRules(rules), facts };
  }

  /** `sshd -T` knows the effective port (Match blocks, includes); fall back to sshd_config, then 22. */
  private async sshPorts(): Promise<number[]> {
    try {
      const r = await this.run.run("sshd", ["-T"], { timeoutMs: 10_000 });
      return parseSshdPorts(r.stdout);
    } catch {
      return parseSshdPorts(await this.readFile(this.options.sshdConfig ?? "/etc/ssh/sshd_config"));
    }
  }


  /**
   * Carries the changes out: creates and updates re-add the rule (a same-spec add rewrites its comment),
   * deletes remove it by spec from both files. Refuses unresolved symbols, bad comments, and — checked
   * again here, not only in the plan — a result that locks SSH out.
   */
  async apply(changes: UfwChange[]): Promise<void> {
    if (changes.length === 0) return;
    if (!this.observation) await this.observe();
    const obs = this.observation!;
    for (const c of changes) {
      const d = c.desired;
      if (d && (isSymbolic(d.from) || isSymbolic(d.to)))
        throw new UserError(`${d.name}: cannot apply a rule with the unresolved symbol ${isSymbolic(d.from) ? d.from : d.to} (the NPM bridge subnet is only known on the live host)`);
      const bad = d && commentProblem(d.comment);
      if (bad) throw new UserError(`${d.name}: ${bad}`);
    }
    const blocking = sshGuard(rulesAfter(obs.rules, changes), changes, obs, this.options.allowSshLockout ?? false).filter(isBlocking);
    if (blocking.length) throw new UnsafePlanError(blocking);

    if (this.options.batch ?? true) await this.applyBatch(changes);
    else await this.applyOneByOne(changes);
    this.observation = undefined;
  }

  private async applyBatch(changes: UfwChange[]): Promise<void> {
    // The same command per change as applyOneByOne (a change with neither side runs nothing there either).
    const work = changes.flatMap((c) => {
      const args = c.action === "delete" && c.actual ? deleteArgs(c.actual) : c.desired ? addArgs(c.desired) : undefined;
      return args ? [{ c, args }] : [];
    });
    if (work.length === 0) return;
    let r;
    try {
      r = await runUfwBatch(this.run, work.map((w) => w.args), { ...(this.options.ufw ? { ufw: this.options.ufw } : {}), ...(this.options.python ? { python: this.options.python } : {}) });
    } catch (err) {
      const why = err instanceof CommandError ? err.stderr.trim() || err.message : String(err);
      throw new ApplyError(`ufw: ${changes.length} change(s) in one transaction failed: ${why}`, { ref: changes[0]!.ref, phase: changes[0]!.phase, cause: err, applied: [] });
    }
    if (r.error !== null) {
      const c = work[r.done]!.c;
      throw new ApplyError(`ufw ${c.action} failed: ERROR: ${r.error}`, { ref: c.ref, phase: c.phase, applied: work.slice(0, r.done).map((w) => w.c.ref) });
    }
  }

  private async applyOneByOne(changes: UfwChange[]): Promise<void> {
    const done: UfwChange["ref"][] = [];
    for (const c of changes) {
      try {
        if (c.action === "delete" && c.actual) await this.ufw(deleteArgs(c.actual));
        else if (c.desired) {
          // An action change at the same position: ufw replaces the rule in place when re-added.
          await this.ufw(addArgs(c.desired));
        }
      } catch (err) {
        const why = err instanceof CommandError ? err.stderr.trim() || err.message : String(err);
        throw new ApplyError(`ufw ${c.action} failed: ${why}`, { ref: c.ref, phase: c.phase, cause: err, applied: done });
      }
      done.push(c.ref);
    }
  }

  private async ufw(args: string[]): Promise<void> {
    const r = await this.run.run(this.options.ufw ?? "ufw", args, { mutates: true });
    // ufw reports some refusals on stdout with exit 0 only in old versions; 0.36 exits 1 with "ERROR:".
    if (/^ERROR:/m.test(r.stdout)) throw new CommandError(`ufw ${args.join(" ")}`, 1, r.stdout);
  }

}
