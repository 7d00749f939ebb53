import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExecaRunner } from "../core/runner.js";
import { busyboxHttpUnit, writeHealthDir } from "./fixtures.js";
import { sandbox } from "./sandbox-env.js";

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return { status: res.status, body: await res.text() };
}

describe("sandbox host: systemd --user", () => {
  const host = sandbox({ parts: ["systemd"] });
  const run = new ExecaRunner();
  const unit = "tack-sandbox-hello.service";
  const unitPath = join(host.home ?? "", ".config/systemd/user", unit);
  const www = join(host.dir, "systemd-user-test/www");

  afterAll(async () => {
    await run.run("systemctl", ["--user", "stop", unit], { mutates: true, okExitCodes: [0, 5] });
    rmSync(unitPath, { force: true });
    await run.run("systemctl", ["--user", "daemon-reload"], { mutates: true });
  });

  it("runs a user unit that answers HTTP, and stops it", async () => {
    writeHealthDir(www, "native-ok\n");
    writeFileSync(unitPath, busyboxHttpUnit({ description: "sandbox hello", port: 4101, dir: www }));
    await run.run("systemctl", ["--user", "daemon-reload"], { mutates: true });
    await run.run("systemctl", ["--user", "start", unit], { mutates: true });

    const show = await run.run("systemctl", ["--user", "show", "-p", "Id,LoadState,ActiveState,FragmentPath", unit]);
    expect(show.stdout).toContain("ActiveState=active");
    expect(show.stdout).toContain(`FragmentPath=${unitPath}`);

    let answer: { status: number; body: string } | undefined;
    for (let i = 0; i < 50 && answer?.status !== 200; i++) {
      answer = await get("http://127.0.0.1:4101/health").catch(() => undefined);
      if (answer?.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer).toEqual({ status: 200, body: "native-ok\n" });

    await run.run("systemctl", ["--user", "stop", unit], { mutates: true });
    await expect(get("http://127.0.0.1:4101/health")).rejects.toThrow();
  });
});
