/**
 * `npm test`: the unit project, then every sandbox test file in a sandbox host of its own (a fresh dockerd,
 * NPM, UFW and systemd --user per file, so no file sees what another left behind). Ends with one line
 * `tests: N passed, M failed` summing all runs; exits 1 if anything failed or a run crashed.
 * Every file runs on the default sandbox (Compose v2, user units, as on the reference host); the files in
 * VARIANTS run again on the other variants that concern them.
 *
 *   node --import tsx test/run-all.ts [FILTER...]    (FILTER: substrings of test file paths)
 */
import { execa } from "execa";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const filters = process.argv.slice(2);
const match = (f: string) => filters.length === 0 || filters.some((x) => f.includes(x));

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
  broken: string[];
}

async function vitest(args: string[], label: string, wrap: string[], totals: Totals): Promise<void> {
  const out = await mkdtemp(path.join(tmpdir(), "tack-vitest-"));
  const json = path.join(out, "result.json");
  const started = Date.now();
  console.log(`\n=== ${label}`);
  const argv = [...wrap, "npx", "vitest", "run", ...args, "--reporter=default", "--reporter=json", `--outputFile.json=${json}`];
  const r = await execa(argv[0]!, argv.slice(1), {
    cwd: root,
    stdio: "inherit",
    reject: false,
  }).catch((e: unknown) => ({ exitCode: -1, message: String(e) }));
  try {
    const res = JSON.parse(await readFile(json, "utf8")) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
    totals.passed += res.numPassedTests;
    totals.failed += res.numFailedTests;
    totals.skipped += res.numPendingTests + res.numTodoTests;
    if (r.exitCode !== 0 && res.numFailedTests === 0) totals.broken.push(`${label} (exit ${r.exitCode})`);
  } catch {
    totals.broken.push(`${label} (no result: exit ${r.exitCode})`);
  }
  console.log(`=== ${label}: exit ${r.exitCode} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await rm(out, { recursive: true, force: true });
}

/**
 * Extra runs (sandbox/host/parts.ts): Compose v1 (`docker-compose`, what Debian 12 packages) and system-scope
 * units (a real system manager booted by systemd-nspawn). Only the files that exercise the difference:
 * each run costs a sandbox boot plus the file's own time (CI's whole suite must stay well under 90 min).
 */
const VARIANTS: Record<string, string[][]> = {
  "kinds/compose-service/compose-driver.sandbox.test.ts": [["--compose", "v1"]],
  "kinds/systemd-unit/systemd-driver.sandbox.test.ts": [["--systemd-scope", "system"]],
  "test/e2e/reference-cutover.sandbox.test.ts": [["--systemd-scope", "system"], ["--compose", "v1"]],
  // tack import reads units of either manager and a compose project by the labels both Compose versions write.
  "test/e2e/import.sandbox.test.ts": [["--systemd-scope", "system"], ["--compose", "v1"]],
};

const totals: Totals = { passed: 0, failed: 0, skipped: 0, broken: [] };
const unitFiles: string[] = [];
const sandboxFiles: string[] = [];
for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
  const f = path.relative(root, path.join(e.parentPath, e.name));
  if (!e.isFile() || !f.endsWith(".test.ts") || f.split(path.sep).some((p) => p === "node_modules" || p.startsWith("."))) continue;
  (f.endsWith(".sandbox.test.ts") ? sandboxFiles : unitFiles).push(f);
}
// A renamed file must not drop its variant runs silently.
for (const f of Object.keys(VARIANTS)) if (!sandboxFiles.some((s) => s.split(path.sep).join("/") === f)) totals.broken.push(`VARIANTS names ${f}, which does not exist`);
const units = unitFiles.filter(match).sort();
if (units.length) await vitest(["--project", "unit", ...(filters.length ? units : [])], "unit tests", [], totals);
for (const f of sandboxFiles.filter(match).sort()) {
  for (const flags of [[], ...(VARIANTS[f.split(path.sep).join("/")] ?? [])]) {
    const label = flags.length ? `sandbox (${flags.join(" ").replaceAll("--", "")}): ${f}` : `sandbox: ${f}`;
    await vitest(["--project", "sandbox", f], label, ["node", "--import", "tsx", path.join(root, "sandbox/run-in-sandbox.ts"), ...flags, "--"], totals);
  }
}
if (totals.broken.length) console.log(`\nruns that crashed or failed outside a test:\n  ${totals.broken.join("\n  ")}`);
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ""}`);
process.exitCode = totals.failed > 0 || totals.broken.length > 0 ? 1 : 0;
