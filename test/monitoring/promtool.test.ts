import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";

const MONITORING = path.resolve(import.meta.dirname, "../../monitoring");

/** Runs promtool (Debian package `prometheus`, scripts/host-deps.sh); the assertion message is promtool's own output. */
async function promtool(...args: string[]): Promise<{ exitCode: number | undefined; output: string }> {
  const r = await execa("promtool", args, { cwd: MONITORING, reject: false, all: true });
  if (r.failed && r.exitCode === undefined) throw new Error(`promtool did not run (install Debian's prometheus package): ${r.message}`);
  return { exitCode: r.exitCode, output: r.all ?? "" };
}

describe("monitoring/alerts.yaml", () => {
  it("passes promtool check rules", async () => {
    const r = await promtool("check", "rules", "alerts.yaml");
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("passes its promtool unit tests (alerts.test.yaml)", async () => {
    const r = await promtool("test", "rules", "alerts.test.yaml");
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
  });
});
