import { execa } from "execa";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { sandbox } from "../../sandbox/sandbox-env.js";

const DEMO = path.resolve(import.meta.dirname, "../../demo/main.ts");

describe("the demo (npm run demo runs this inside a sandbox host)", () => {
  it("cuts islandflow over to native through a real agent and shows the end state", async () => {
    sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
    const r = await execa("node", ["--import", "tsx", DEMO], { reject: false, all: true, timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(0);
    const out = r.all ?? "";
    expect(out).toMatch(/POST \/hooks\/git → 202/);
    expect(out).toMatch(/✓ health \[api\]/);
    expect(out).toMatch(/✓ edge/);
    expect(out).toMatch(/converged on [0-9a-f]{12} [\d.]+ s after the push/);
    for (const scope of ["api", "workers", "ingest-options", "web"]) expect(out).toMatch(new RegExp(`^\\s+${scope}\\s+native \\(systemd --user\\)$`, "m"));
    expect(out).toMatch(/api\.flow\.example\.org\s+→ 172\.\d+\.0\.1:4000\s+answers: islandflow api native/);
    expect(out).toMatch(/ufw allow from 172\.\d+\.0\.0\/16 to any port 3000 proto tcp comment 'tack: derived npm bridge to web'/);
    expect(out).toMatch(/A api\.flow\.example\.org\s+203\.0\.113\.10\s+DNS-only/);
    expect(out).toMatch(/tack_scope_owner\{scope="api",owner="native"\} 0 → 1/);
    expect(out).toMatch(/agent: stopped/);
  });
});
