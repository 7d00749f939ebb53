import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CommandError, UserError } from "../../core/errors.js";
import type { DesiredComposeService } from "../../core/resources.js";
import { formatCommand, type CommandRecord, type RunOptions, type RunResult, type Runner } from "../../core/runner.js";
import { StateCache } from "../../core/state-cache.js";
import { OutputCache } from "./config-cache.js";
import { ComposeDriver } from "./compose-driver.js";

/**
 * The driver's use of the config cache, counted through a small scripted Runner (the real commands run in
 * compose-driver.sandbox.test.ts): which calls a repeated observe still makes, and when it falls back.
 */
class ScriptedRunner implements Runner {
  readonly history: CommandRecord[] = [];
  imageIds: Record<string, string> = { "api:1": `sha256:${"1".repeat(64)}` };
  hashOf = "a".repeat(64);

  async run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    this.history.push({ file, args, mutates: options.mutates ?? false, exitCode: 0, stderr: "", durationMs: 0 });
    if (file === "docker" && args[0] === "ps") return ok("");
    if (file === "docker" && args[0] === "image") {
      const images = args.slice(4);
      const missing = images.filter((i) => !this.imageIds[i]);
      if (missing.length) throw new CommandError(formatCommand(file, args), 1, `Error: No such image: ${missing[0]}`);
      return ok(images.map((i) => this.imageIds[i]).join("\n") + "\n");
    }
    if (file === "docker-compose" && args.at(-1) === "config") {
      const compose = path.join(options.cwd!, "docker-compose.yml");
      return ok((await import("node:fs")).readFileSync(compose, "utf8"));
    }
    if (file === "docker-compose" && args.at(-1)!.startsWith("--hash=")) return ok(`api ${this.hashOf}\n`);
    if (file === "docker" && args.join(" ") === "compose version --short") throw new CommandError(formatCommand(file, args), 1, "docker: 'compose' is not a docker command.");
    if (file === "docker-compose" && args.join(" ") === "version --short") return ok("1.29.2\n");
    throw new Error(`unexpected command ${formatCommand(file, args)}`);
  }

  composeCalls(): number {
    return this.history.filter((r) => r.file === "docker-compose").length;
  }
}

const ok = (stdout: string): RunResult => ({ stdout, stderr: "", exitCode: 0 });

let dir: string;
let runner: ScriptedRunner;
let cache: OutputCache;
let api: DesiredComposeService;
const driver = () => new ComposeDriver({ runner, flavor: "v1", outputCache: cache });

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "tack-compose-cache-"));
  writeFileSync(path.join(dir, "docker-compose.yml"), "services:\n  api:\n    image: api:1\n    environment: {E: '1'}\n");
  runner = new ScriptedRunner();
  cache = new OutputCache(8);
  api = { kind: "compose.service", name: "p/api", project: "p", service: "api", files: [path.join(dir, "docker-compose.yml")], workingDir: dir, env: {}, state: "running", scope: "api" };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("compose driver with the config cache", () => {
  it("a repeated observe, even by a new driver, runs docker ps and one image inspect, no compose", async () => {
    const first = await driver().observe([api]);
    expect(runner.composeCalls()).toBe(2);
    const mark = runner.history.length;
    const second = await driver().observe([api]);
    expect(second).toEqual(first);
    expect(runner.history.slice(mark).map((r) => `${r.file} ${r.args.slice(0, 2).join(" ")}`)).toEqual(["docker ps -a", "docker image inspect"]);
  });

  it("an edited compose file runs both compose calls again", async () => {
    await driver().observe([api]);
    writeFileSync(path.join(dir, "docker-compose.yml"), "services:\n  api:\n    image: api:1\n    environment: {E: '2'}\n");
    runner.hashOf = "b".repeat(64);
    const mark = runner.composeCalls();
    expect((await driver().observe([api])).get(api.name)!.expectedHash).toBe("b".repeat(64));
    expect(runner.composeCalls() - mark).toBe(2);
  });

  it("a new image ID runs `config --hash` again, not `config`", async () => {
    await driver().observe([api]);
    runner.imageIds["api:1"] = `sha256:${"2".repeat(64)}`;
    runner.hashOf = "c".repeat(64);
    const mark = runner.history.length;
    expect((await driver().observe([api])).get(api.name)!.expectedHash).toBe("c".repeat(64));
    expect(runner.history.slice(mark).filter((r) => r.file === "docker-compose").map((r) => r.args.at(-1))).toEqual(["--hash=api"]);
  });

  it("a missing image: `config --hash` runs every time", async () => {
    runner.imageIds = {};
    await driver().observe([api]);
    const mark = runner.history.length;
    await driver().observe([api]);
    expect(runner.history.slice(mark).filter((r) => r.file === "docker-compose").map((r) => r.args.at(-1))).toEqual(["--hash=api"]);
  });

  it("an unreadable referenced file: compose runs every time", async () => {
    writeFileSync(path.join(dir, "docker-compose.yml"), "services:\n  api:\n    image: api:1\n    env_file: gone.env\n");
    await driver().observe([api]);
    const mark = runner.composeCalls();
    await driver().observe([api]);
    expect(runner.composeCalls() - mark).toBe(2);
    expect(cache.size).toBe(0);
  });

  it("outputCache: false never caches", async () => {
    const d = new ComposeDriver({ runner, flavor: "v1", outputCache: false });
    await d.observe([api]);
    await d.observe([api]);
    expect(runner.composeCalls()).toBe(4);
  });

  it("an unknown service is a UserError from a cached config too", async () => {
    await driver().observe([api]);
    const ghost = { ...api, name: "p/ghost", service: "ghost" };
    const mark = runner.composeCalls();
    const err = await driver().observe([ghost]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/compose.service p\/ghost: service "ghost" is not defined in .* \(defined: api\)/);
    expect(runner.composeCalls()).toBe(mark);
  });
});

/** A runner whose outputs may be kept in the state dir: it has an identity (an ExecaRunner has one). */
class IdentifiedRunner extends ScriptedRunner {
  readonly identity = "scripted";
}

describe("compose driver with a state dir", () => {
  it("a fresh process (new caches on the same files) runs no compose at all: flavor, config and hash come from the state dir", async () => {
    const stateDir = path.join(dir, "state");
    runner = new IdentifiedRunner();
    // One "process": the state dir's caches, as kinds/index.ts makes them.
    const first = await new ComposeDriver({ runner, stateDir }).observe([api]);
    expect(runner.history.map((r) => `${r.file} ${r.args.join(" ")}`)).toContain("docker-compose version --short");
    expect(runner.composeCalls()).toBe(3); // version, config, config --hash
    // Another "process": nothing in memory, the same files.
    const mark = runner.history.length;
    const fresh = new OutputCache(8, new StateCache(path.join(stateDir, "cache", "compose.json")));
    const second = await new ComposeDriver({ runner, stateDir, outputCache: fresh }).observe([api]);
    expect(second).toEqual(first);
    expect(runner.history.slice(mark).map((r) => `${r.file} ${r.args.slice(0, 2).join(" ")}`)).toEqual(["docker ps -a", "docker image inspect"]);
  });

  it("an edited compose file still runs compose again in the next process", async () => {
    const stateDir = path.join(dir, "state");
    runner = new IdentifiedRunner();
    await new ComposeDriver({ runner, stateDir, flavor: "v1" }).observe([api]);
    writeFileSync(path.join(dir, "docker-compose.yml"), "services:\n  api:\n    image: api:1\n    environment: {E: '2'}\n");
    runner.hashOf = "b".repeat(64);
    const fresh = new OutputCache(8, new StateCache(path.join(stateDir, "cache", "compose.json")));
    const mark = runner.composeCalls();
    expect((await new ComposeDriver({ runner, stateDir, flavor: "v1", outputCache: fresh }).observe([api])).get(api.name)!.expectedHash).toBe("b".repeat(64));
    expect(runner.composeCalls() - mark).toBe(2);
  });

  it("a runner without an identity keeps nothing in the state dir", async () => {
    const stateDir = path.join(dir, "state-anon");
    await new ComposeDriver({ runner, stateDir }).observe([api]);
    expect(new StateCache(path.join(stateDir, "cache", "compose.json")).get("anything")).toBeUndefined();
    expect((await import("node:fs")).existsSync(path.join(stateDir, "cache"))).toBe(false);
  });
});
