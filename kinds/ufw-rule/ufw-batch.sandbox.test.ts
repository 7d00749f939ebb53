import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplyError } from "../../core/errors.js";
import type { DesiredUfwRule } from "../../core/resources.js";
import { ExecaRunner } from "../../core/runner.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { planRules } from "./rule-plan.js";
import { UfwDriver } from "./ufw-driver.js";

/**
 * The UFW transaction (ufw-batch.ts) against rules added one by one: from the same starting files, the same
 * two rounds of changes (creates of every shape, then deletes, a comment change and an action change) leave
 * byte-identical user rules files and identical live ufw-user chains, whichever way they were applied.
 */
type Shape = Partial<DesiredUfwRule> & Pick<DesiredUfwRule, "port" | "from">;

function rule(s: Shape): DesiredUfwRule {
  const base = { action: "allow" as const, direction: "in" as const, proto: "tcp" as const, to: "any", comment: `tack: ${s.port ?? "all"} from ${s.from}`, ...s };
  return { kind: "ufw.rule", name: `${base.action} ${base.direction} ${base.proto} ${base.port ?? "all"} from ${base.from} to ${base.to}`, adopt: false, derived: false, ...base };
}

const ssh = rule({ port: "22", from: "any", comment: "tack: ssh" });
const round1: DesiredUfwRule[] = [
  ssh,
  rule({ port: "4000", from: "172.18.0.0/16" }),
  rule({ port: "4001", from: "any" }),
  rule({ port: "5353", from: "192.0.2.0/24", proto: "udp" }),
  rule({ port: "6000:6010", from: "198.51.100.0/24" }),
  rule({ port: "7000", from: "2001:db8::/32" }),
  rule({ port: "8443", from: "any", action: "deny", comment: "tack: no 8443 — é" }),
  rule({ port: "2222", from: "any", action: "limit" }),
  rule({ port: "9000", from: "any", proto: "any", direction: "in" }),
  rule({ port: "25", from: "any", direction: "out", action: "reject" }),
];
const round2: DesiredUfwRule[] = [
  ssh,
  rule({ port: "4000", from: "172.18.0.0/16", comment: "tack: renamed" }),
  rule({ port: "5353", from: "192.0.2.0/24", proto: "udp" }),
  rule({ port: "6000:6010", from: "198.51.100.0/24", action: "deny" }),
  rule({ port: "7000", from: "2001:db8::/32" }),
  rule({ port: "2222", from: "any", action: "limit" }),
  rule({ port: "25", from: "any", direction: "out", action: "reject" }),
  rule({ port: "9100", from: "203.0.113.0/24" }),
];

/** Plans as the engine does: the kind's pure plan over what the driver observed (kinds/ufw-rule/kind.ts). */
async function planFor(d: UfwDriver, desired: DesiredUfwRule[]) {
  const observed = await d.observe();
  return planRules(desired, { rules: [...observed.resources.values()], ...observed.facts }).changes;
}

describe("UFW changes in one transaction vs one ufw process per change (sandbox)", () => {
  sandbox({ parts: ["ufw"] });
  const run = new ExecaRunner({ defaultTimeoutMs: 60_000 });
  const files = ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"];
  let start: string[];

  const state = async () => {
    const chains = async (bin: string) => (await run.run(bin, ["-w", "-S"])).stdout.split("\n").filter((l) => l.includes("ufw-user-")).join("\n");
    return { files: files.map((f) => readFileSync(f, "utf8")), v4: await chains("iptables"), v6: await chains("ip6tables"), added: (await run.run("ufw", ["show", "added"])).stdout };
  };
  const reset = async () => {
    files.forEach((f, i) => writeFileSync(f, start[i]!));
    await run.run("ufw", ["reload"], { mutates: true });
  };
  const converge = async (batch: boolean) => {
    const processes: number[] = [];
    for (const desired of [round1, round2]) {
      const d = new UfwDriver({ runner: run, batch, sshPorts: [22] });
      const changes = await planFor(d, desired);
      const before = run.mutations().length;
      await d.apply(changes);
      processes.push(run.mutations().length - before);
      const again = new UfwDriver({ runner: run, batch, sshPorts: [22] });
      expect(await planFor(again, desired)).toEqual([]);
    }
    return processes;
  };

  beforeAll(() => {
    start = files.map((f) => readFileSync(f, "utf8"));
  });
  afterAll(async () => {
    await reset();
  });

  it("leaves the same files and the same live chains, with one process per apply instead of one per change", async () => {
    await reset();
    const oneByOne = await converge(false);
    const expected = await state();
    await reset();
    expect((await state()).v4).not.toEqual(expected.v4);
    const batched = await converge(true);
    const actual = await state();
    expect(actual.files).toEqual(expected.files);
    expect(actual.v4).toEqual(expected.v4);
    expect(actual.v6).toEqual(expected.v6);
    expect(actual.added).toEqual(expected.added);
    expect(oneByOne).toEqual([10, 6]); // 10 creates; then 3 deletes, 2 re-adds, 1 create
    expect(batched).toEqual([1, 1]);
    expect(actual.v4).toContain("--dport 9100");
    expect(actual.files[1]).toContain("### tuple ### allow tcp 7000 ::/0 any 2001:db8::/32 in");
    // (The sandbox's ip6tables has no ufw chains loaded, so v6 is compared through the files and `show added`.)
  });

  it("a command UFW refuses stops the transaction there: what came before is applied and live, and named in the error", async () => {
    await reset();
    const ok = rule({ port: "4100", from: "any" });
    // An IPv6 source with an IPv4 destination: UFW refuses it ("Invalid position"-class errors are exit 1 as well).
    const bad = rule({ port: "4101", from: "2001:db8::/32", to: "192.0.2.1" });
    const d = new UfwDriver({ runner: run, sshPorts: [22] });
    const changes = await planFor(d, [ssh, ok, bad]);
    const err = (await d.apply(changes).catch((e: unknown) => e)) as ApplyError;
    expect(err).toBeInstanceOf(ApplyError);
    expect(err.message).toMatch(/ufw create failed: ERROR: Mixed IP versions/);
    expect(err.applied.map((r) => r.name)).toEqual([ssh.name, ok.name]);
    const s = await state();
    expect(s.files[0]).toContain("### tuple ### allow tcp 4100 0.0.0.0/0 any 0.0.0.0/0 in");
    expect(s.v4).toContain("--dport 4100");
  });
});
