import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnsafePlanError, UserError } from "../../core/errors.js";
import { SYMBOLIC_BRIDGE_SUBNET, type DesiredUfwRule } from "../../core/resources.js";
import { ExecaRunner } from "../../core/runner.js";
import { npmBridge, requestFromContainer, writeHealthDir, type BridgeNetwork } from "../../sandbox/fixtures.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import type { Finding } from "../../core/findings.js";
import type { Observed } from "../../core/kind.js";
import { parseRuleFiles, positionKey, type UfwRule } from "./parse-rules.js";
import { planRules, type UfwFacts } from "./rule-plan.js";
import { UfwDriver } from "./ufw-driver.js";

const PORT = 4000;

// Plans as the engine does: the kind's pure plan over what the driver observed (kinds/ufw-rule/kind.ts).
const lastFindings = new WeakMap<UfwDriver, Finding[]>();
const lockoutAllowed = new WeakSet<UfwDriver>();
function planFor(d: UfwDriver, desired: DesiredUfwRule[], observed: Observed<UfwRule, UfwFacts>) {
  const p = planRules(desired, { rules: [...observed.resources.values()], ...observed.facts }, { allowSshLockout: lockoutAllowed.has(d) });
  lastFindings.set(d, p.findings);
  return p.changes;
}
const findingsOf = (d: UfwDriver): Finding[] => lastFindings.get(d) ?? [];

function rule(port: string, from: string, comment: string, over: Partial<DesiredUfwRule> = {}): DesiredUfwRule {
  const base = { action: "allow" as const, direction: "in" as const, proto: "tcp" as const, port, from, to: "any", ...over };
  return { kind: "ufw.rule", name: `${base.action} ${base.direction} ${base.proto} ${port} from ${from} to any`, comment, adopt: false, derived: false, ...base };
}

describe("UFW driver on a real UFW (sandbox)", () => {
  const host = sandbox({ parts: ["ufw", "docker", "npm"] });
  const run = new ExecaRunner({ defaultTimeoutMs: 60_000 });
  let httpd: ChildProcess | undefined;
  let bridge: BridgeNetwork;
  const ssh = rule("22", "any", "tack: ssh");
  let edge: DesiredUfwRule;

  const probe = () => requestFromContainer(host.npmContainer ?? "nginx-proxy-manager", `http://${bridge.gateway}:${PORT}/health`, 2_000);
  const driver = () => new UfwDriver({ runner: run });
  const converge = async (d: UfwDriver, desired: DesiredUfwRule[]) => {
    const changes = planFor(d, desired, await d.observe());
    await d.apply(changes);
    return changes;
  };
  const userRules = () => readFileSync("/etc/ufw/user.rules", "utf8");

  beforeAll(async () => {
    bridge = await npmBridge(run);
    edge = rule(String(PORT), bridge.subnet, "tack: npm bridge to native api");
    const dir = join(host.dir, "ufw-test-www");
    writeHealthDir(dir, "native-api\n");
    httpd = spawn("busybox", ["httpd", "-f", "-p", String(PORT), "-h", dir], { stdio: "ignore" });
    // The service answers locally (loopback passes UFW), so a failed probe from NPM can only be the firewall.
    let local = "";
    for (let i = 0; i < 50 && local !== "native-api\n"; i++) {
      local = await fetch(`http://127.0.0.1:${PORT}/health`).then((r) => r.text(), () => "");
      if (local !== "native-api\n") await new Promise((r) => setTimeout(r, 100));
    }
    expect(local).toBe("native-api\n");
    // A rule made by hand: tack must leave it alone.
    await run.run("ufw", ["allow", "proto", "tcp", "from", "any", "to", "any", "port", "8080", "comment", "by hand"], { mutates: true });
  });

  afterAll(async () => {
    httpd?.kill("SIGTERM");
    for (const args of [
      ["delete", "allow", "proto", "tcp", "from", "any", "to", "any", "port", "8080"],
      ["delete", "allow", "in", "proto", "tcp", "from", bridge?.subnet ?? "0.0.0.0/0", "to", "any", "port", String(PORT)],
      ["delete", "allow", "in", "proto", "tcp", "from", "any", "to", "any", "port", "22"],
    ])
      await run.run("ufw", args, { mutates: true }).catch(() => undefined);
  });

  it("tack's rule from the bridge subnet opens NPM → native :4000; a second apply runs nothing", async () => {
    const before = await probe();
    expect(before.ok).toBe(false);

    const d = driver();
    const changes = await converge(d, [ssh, edge]);
    expect(changes.map((c) => [c.action, c.ref.name])).toEqual([
      ["create", "allow in tcp 22 from any to any"],
      ["create", `allow in tcp 4000 from ${bridge.subnet} to any`],
    ]);
    expect(findingsOf(d).map((f) => f.id)).toEqual(["ufw-unmanaged"]);

    const after = await probe();
    expect(after).toMatchObject({ ok: true, status: 200, body: "native-api\n" });
    expect(userRules()).toContain(`### tuple ### allow tcp 4000 0.0.0.0/0 any ${bridge.subnet} in comment=${Buffer.from("tack: npm bridge to native api").toString("hex")}`);
    expect(readFileSync("/etc/ufw/user6.rules", "utf8")).toMatch(/### tuple ### allow tcp 22 ::\/0 any ::\/0 in comment=/);

    const mutationsBefore = run.mutations().length;
    const again = driver();
    const second = planFor(again, [ssh, edge], await again.observe());
    expect(second).toEqual([]);
    await again.apply(second);
    expect(run.mutations().length).toBe(mutationsBefore);
  });

  it("leaves the hand-added rule alone and reports a same-spec hand-made rule as a conflict", async () => {
    const d = driver();
    const hand = rule("8080", "any", "tack: want it");
    const changes = planFor(d, [ssh, edge, hand], await d.observe());
    expect(changes).toEqual([]);
    expect(findingsOf(d).find((f) => f.id === "ufw-conflict")?.message).toContain('"by hand"');
    expect(userRules()).toContain(`comment=${Buffer.from("by hand").toString("hex")}`);
  });

  it("removing the rule from the desired state deletes only tack's rule, and closes the path again", async () => {
    const d = driver();
    const changes = await converge(d, [ssh]);
    expect(changes.map((c) => [c.action, c.ref.name])).toEqual([["delete", `allow in tcp 4000 from ${bridge.subnet} to any`]]);
    const rules = userRules();
    expect(rules).not.toContain(`${PORT} 0.0.0.0/0 any ${bridge.subnet}`);
    expect(rules).toContain("### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in comment=");
    expect(rules).toContain("### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=");
    expect((await probe()).ok).toBe(false);
    const again = driver();
    expect(planFor(again, [ssh], await again.observe())).toEqual([]);
  });

  it("the SSH guard refuses a plan that removes the last SSH rule, and runs nothing", async () => {
    const d = driver();
    const changes = planFor(d, [], await d.observe());
    expect(changes.map((c) => c.action)).toEqual(["delete"]);
    const lockout = findingsOf(d).find((f) => f.id === "ssh-lockout");
    expect(lockout).toMatchObject({ severity: "error" });
    expect(lockout?.message).toContain('"allow in tcp 22 from any to any"');
    const mutations = run.mutations().length;
    await expect(d.apply(changes)).rejects.toThrow(UnsafePlanError);
    expect(run.mutations().length).toBe(mutations);
    expect(userRules()).toContain("### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=");

    // policy.safety.allowSshLockout lets it through as a warning (not applied here: later tests need SSH kept).
    const allowed = new UfwDriver({ runner: run, allowSshLockout: true });
    lockoutAllowed.add(allowed);
    planFor(allowed, [], await allowed.observe());
    expect(findingsOf(allowed).find((f) => f.id === "ssh-lockout")?.severity).toBe("warning");
  });

  it("plans the symbolic bridge subnet but refuses to apply it", async () => {
    const d = driver();
    const symbolic = rule(String(PORT), SYMBOLIC_BRIDGE_SUBNET, "tack: derived npm bridge to api");
    const changes = planFor(d, [ssh, symbolic], await d.observe());
    expect(changes.map((c) => c.ref.name)).toEqual([`allow in tcp 4000 from ${SYMBOLIC_BRIDGE_SUBNET} to any`]);
    const mutations = run.mutations().length;
    await expect(d.apply(changes)).rejects.toThrow(UserError);
    expect(run.mutations().length).toBe(mutations);
  });

  it("updates a comment in place and reads the rules while UFW is inactive", async () => {
    const d = driver();
    const renamed = { ...ssh, comment: "tack: ssh for admins" };
    const changes = await converge(d, [renamed]);
    expect(changes.map((c) => [c.action, c.fields.map((f) => f.field)])).toEqual([["update", ["comment"]]]);
    expect(userRules()).toContain(`comment=${Buffer.from("tack: ssh for admins").toString("hex")}`);

    await run.run("ufw", ["disable"], { mutates: true });
    try {
      const off = driver();
      const plan = planFor(off, [renamed], await off.observe());
      expect(plan).toEqual([]);
      expect(findingsOf(off).map((f) => `${f.severity}:${f.id}`)).toContain("warning:ufw-inactive");
    } finally {
      await run.run("ufw", ["--force", "enable"], { mutates: true });
    }
  });

  it("the parser reads every kind of rule real UFW writes (limit, deny, reject, out, ranges, log, interface, route, v6)", async () => {
    const specs = [
      ["limit", "proto", "tcp", "from", "any", "to", "any", "port", "2222", "comment", "ssh – throttled"],
      ["deny", "proto", "udp", "from", "10.0.0.0/8", "to", "any", "port", "6000:6010"],
      ["reject", "out", "to", "192.0.2.7"],
      ["allow", "log", "proto", "tcp", "from", "any", "to", "any", "port", "80,443"],
      ["allow", "in", "on", "eth1", "from", "2001:db8::/32"],
      ["route", "allow", "proto", "tcp", "from", "any", "to", "any", "port", "8081"],
    ];
    const deletes = [
      ["delete", "limit", "proto", "tcp", "from", "any", "to", "any", "port", "2222"],
      ["delete", "deny", "proto", "udp", "from", "10.0.0.0/8", "to", "any", "port", "6000:6010"],
      ["delete", "reject", "out", "to", "192.0.2.7"],
      ["delete", "allow", "log", "proto", "tcp", "from", "any", "to", "any", "port", "80,443"],
      ["delete", "allow", "in", "on", "eth1", "from", "2001:db8::/32"],
      ["route", "delete", "allow", "proto", "tcp", "from", "any", "to", "any", "port", "8081"],
    ];
    try {
      for (const a of specs) await run.run("ufw", a, { mutates: true });
      const rules = parseRuleFiles(userRules(), readFileSync("/etc/ufw/user6.rules", "utf8"));
      const byKey = new Map(rules.map((r) => [positionKey(r), r]));
      expect(byKey.get("in tcp 2222 from any to any")).toMatchObject({ action: "limit", comment: "ssh – throttled", v4: true, v6: true });
      expect(byKey.get("in udp 6000:6010 from 10.0.0.0/8 to any")).toMatchObject({ action: "deny", v4: true, v6: false });
      expect(byKey.get("out any any from any to 192.0.2.7")).toMatchObject({ action: "reject", direction: "out" });
      expect(byKey.get("in tcp 80,443 from any to any")).toMatchObject({ action: "allow", log: "log" });
      expect(byKey.get("in any any from 2001:db8::/32 to any on eth1")).toMatchObject({ v4: false, v6: true });
      expect(byKey.get("in tcp 8081 from any to any route")).toMatchObject({ action: "allow", route: true });
      // `ufw show added` prints one line per rule: the parser finds exactly as many.
      const shown = (await run.run("ufw", ["show", "added"])).stdout.split("\n").filter((l) => l.startsWith("ufw "));
      expect(rules).toHaveLength(shown.length);
      // None of them is tack's: a plan reports them and changes nothing of theirs.
      const d = driver();
      const changes = planFor(d, [{ ...ssh, comment: "tack: ssh for admins" }], await d.observe());
      expect(changes).toEqual([]);
      expect(findingsOf(d).find((f) => f.id === "ufw-unmanaged")?.message).toContain("limit in tcp 2222 from any to any");
    } finally {
      for (const a of deletes) await run.run("ufw", a, { mutates: true }).catch(() => undefined);
    }
  });

  it("changes a tack rule's action in place (allow → deny) and converges", async () => {
    const d = driver();
    const open = rule("9000", "any", "tack: test port");
    await converge(d, [ssh, open]);
    const closed = { ...open, action: "deny" as const, name: "deny in tcp 9000 from any to any" };
    const changes = await converge(d, [ssh, closed]);
    expect(changes.map((c) => [c.action, c.phase, c.fields.map((f) => f.field)])).toEqual([["update", "firewall-close", ["action"]]]);
    expect(userRules()).toMatch(/### tuple ### deny tcp 9000 0\.0\.0\.0\/0 any 0\.0\.0\.0\/0 in comment=/);
    expect(userRules()).not.toMatch(/### tuple ### allow tcp 9000 /);
    const again = driver();
    expect(planFor(again, [ssh, closed], await again.observe())).toEqual([]);
    await converge(d, [ssh]);
    expect(userRules()).not.toContain(" 9000 ");
  });
});
