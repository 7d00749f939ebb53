import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExecaRunner } from "../core/runner.js";
import { busyboxHttpUnit, npmBridge, requestFromContainer, writeHealthDir } from "./fixtures.js";
import { sandbox } from "./sandbox-env.js";

// The reference outage: NPM (on its bridge) reaches a native port only when UFW allows the bridge subnet.
describe("sandbox host: UFW between NPM's bridge and a native port", () => {
  const host = sandbox({ parts: ["ufw", "systemd", "npm"] });
  const run = new ExecaRunner({ defaultTimeoutMs: 60_000 });
  const unit = "tack-sandbox-native4000.service";
  const unitPath = join(host.home ?? "", ".config/systemd/user", unit);
  let rule: string[] = [];

  afterAll(async () => {
    if (rule.length > 0) await run.run("ufw", ["delete", ...rule], { mutates: true }).catch(() => undefined);
    await run.run("systemctl", ["--user", "stop", unit], { mutates: true, okExitCodes: [0, 5] });
    rmSync(unitPath, { force: true });
  });

  it("times out under UFW's default deny, then succeeds after `ufw allow` from the bridge subnet", async () => {
    const www = join(host.dir, "ufw-test/www");
    writeHealthDir(www, "native-4000\n");
    writeFileSync(unitPath, busyboxHttpUnit({ description: "native api on 0.0.0.0:4000", port: 4000, dir: www }));
    await run.run("systemctl", ["--user", "daemon-reload"], { mutates: true });
    await run.run("systemctl", ["--user", "start", unit], { mutates: true });
    // It is up on the host itself (loopback is always allowed by UFW).
    let local: Response | undefined;
    for (let i = 0; i < 50 && !local; i++) {
      local = await fetch("http://127.0.0.1:4000/health").catch(() => undefined);
      if (!local) await new Promise((r) => setTimeout(r, 100));
    }
    expect(local?.status).toBe(200);

    const bridge = await npmBridge();
    expect(bridge.subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    const url = `http://${bridge.gateway}:4000/health`;
    const npm = host.npmContainer ?? "";

    const blocked = await requestFromContainer(npm, url, 3_000);
    expect(blocked.ok).toBe(false);
    expect(blocked.status).toBeUndefined();
    expect(blocked.error).toMatch(/timed out|timeout/i);

    rule = ["allow", "proto", "tcp", "from", bridge.subnet, "to", "any", "port", "4000"];
    await run.run("ufw", rule, { mutates: true });
    const rules = await run.run("iptables", ["-S", "ufw-user-input"]);
    expect(rules.stdout).toContain(`-s ${bridge.subnet} -p tcp -m tcp --dport 4000 -j ACCEPT`);

    const allowed = await requestFromContainer(npm, url, 3_000);
    expect(allowed).toMatchObject({ ok: true, status: 200, body: "native-4000\n" });
  });
});
