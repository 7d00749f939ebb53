import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configKey, hashKey, OutputCache, type ComposeInputs } from "./config-cache.js";

let dir: string;
let inputs: ComposeInputs;
const env = { PATH: "/usr/bin:/bin", HOME: "/root" };
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), text);
};
const key = (over: Partial<ComposeInputs> = {}, processEnv: NodeJS.ProcessEnv = env) => configKey({ ...inputs, ...over }, processEnv);

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "tack-config-cache-"));
  write(
    "compose/docker-compose.yml",
    [
      "services:",
      "  api:",
      "    image: api:1",
      "    env_file: api.env",
      "  web:",
      "    image: web:1",
      "    env_file: [web.env, {path: extra.env}]",
      "  worker:",
      "    extends: { file: base.yml, service: base }",
      "",
    ].join("\n"),
  );
  write("compose/api.env", "A=1\n");
  write("compose/web.env", "W=1\n");
  write("compose/extra.env", "X=1\n");
  write("compose/base.yml", "services:\n  base:\n    image: base:1\n    env_file: base.env\n");
  write("compose/base.env", "B=1\n");
  inputs = { flavor: "v1", version: "docker-compose version 1.29.2", project: "p", workingDir: dir, files: [path.join(dir, "compose/docker-compose.yml")], env: { X: "1" }, runnerId: "runner-1" };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("compose config cache key", () => {
  it("is stable while nothing changes", async () => {
    const k = await key();
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(await key()).toBe(k);
  });

  it.each([
    ["the compose file's content", () => write("compose/docker-compose.yml", "services:\n  api:\n    image: api:2\n    env_file: api.env\n")],
    ["the project dir's .env (absent, then present)", () => write(".env", "TAG=1\n")],
    ["an env_file in string form", () => write("compose/api.env", "A=2\n")],
    ["an env_file in list form", () => write("compose/web.env", "W=2\n")],
    ["an env_file in object form", () => write("compose/extra.env", "X=2\n")],
    ["the extended file", () => write("compose/base.yml", "services:\n  base:\n    image: base:2\n    env_file: base.env\n")],
    ["an env_file of the extended file", () => write("compose/base.env", "B=2\n")],
  ])("changes with %s", async (_what, edit) => {
    const before = await key();
    edit();
    const after = await key();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it("changes when .env changes once present", async () => {
    write(".env", "TAG=1\n");
    const one = await key();
    write(".env", "TAG=2\n");
    expect(await key()).not.toBe(one);
  });

  it("changes with the env given to compose, the process env, the flavor, the version, the project, the runner", async () => {
    const base = await key();
    const others = await Promise.all([
      key({ env: { X: "2" } }),
      key({}, { ...env, TACK_SOME_VAR: "1" }),
      key({}, { ...env, PATH: "/bin" }),
      key({ flavor: "v2" }),
      key({ version: "docker-compose version 1.29.3" }),
      key({ project: "q" }),
      key({ runnerId: "runner-2" }),
      key({ files: [path.join(dir, "compose/docker-compose.yml"), path.join(dir, "compose/base.yml")] }),
    ]);
    for (const k of others) expect(k).toBeDefined();
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });

  it("the env given to compose wins over the process env, as execa merges them", async () => {
    expect(await key({ env: { X: "1" } }, { ...env, X: "0" })).toBe(await key({ env: { X: "1" } }, { ...env, X: "9" }));
  });

  it("hash key changes with the image IDs and the services asked for", () => {
    const k = "a".repeat(64);
    const one = hashKey(k, ["api"], `api:1=sha256:${"1".repeat(64)}`);
    expect(hashKey(k, ["api"], `api:1=sha256:${"2".repeat(64)}`)).not.toBe(one);
    expect(hashKey(k, ["api", "web"], `api:1=sha256:${"1".repeat(64)}`)).not.toBe(one);
    expect(hashKey("b".repeat(64), ["api"], `api:1=sha256:${"1".repeat(64)}`)).not.toBe(one);
  });

  it("reads an env_file relative to the file's dir or the project dir: either may hold it", async () => {
    rmSync(path.join(dir, "compose/api.env"));
    write("api.env", "A=1\n");
    const k = await key();
    expect(k).toBeDefined();
    write("api.env", "A=2\n");
    expect(await key()).not.toBe(k);
  });

  it.each([
    ["a missing env_file", () => rmSync(path.join(dir, "compose/api.env"))],
    ["an unreadable env_file (a directory)", () => (rmSync(path.join(dir, "compose/web.env")), mkdirSync(path.join(dir, "compose/web.env")))],
    ["a missing extended file", () => rmSync(path.join(dir, "compose/base.yml"))],
    ["a missing env_file of the extended file", () => rmSync(path.join(dir, "compose/base.env"))],
    ["a missing compose file", () => rmSync(path.join(dir, "compose/docker-compose.yml"))],
    ["YAML that does not parse", () => write("compose/docker-compose.yml", "services:\n  api: [\n")],
    ["an interpolated env_file path", () => write("compose/docker-compose.yml", "services:\n  api:\n    image: a\n    env_file: ${DIR}/a.env\n")],
    ["a top-level include", () => write("compose/docker-compose.yml", "include: [other.yml]\nservices: {}\n")],
    ["an env_file entry of unknown shape", () => write("compose/docker-compose.yml", "services:\n  api:\n    image: a\n    env_file: [{file: a.env}]\n")],
  ])("gives no key with %s", async (_what, edit) => {
    edit();
    expect(await key()).toBeUndefined();
  });

  it("gives no key with an unreadable .env (permission denied as non-root, a directory as root)", async () => {
    write(".env", "A=1\n");
    if (process.getuid?.() === 0) {
      rmSync(path.join(dir, ".env"));
      mkdirSync(path.join(dir, ".env"));
    } else {
      chmodSync(path.join(dir, ".env"), 0);
    }
    expect(await key()).toBeUndefined();
  });

  it("gives no key without compose files (compose would pick its default files)", async () => {
    expect(await key({ files: [] })).toBeUndefined();
  });

  it("follows YAML merge keys to an env_file", async () => {
    write("compose/docker-compose.yml", "x-common: &common\n  env_file: api.env\nservices:\n  api:\n    <<: *common\n    image: a\n");
    const k = await key();
    write("compose/api.env", "A=3\n");
    expect(await key()).not.toBe(k);
  });
});

describe("OutputCache", () => {
  it("keeps at most max entries, least recently used out", () => {
    const c = new OutputCache(2);
    c.set("a", "1");
    c.set("b", "2");
    expect(c.get("a")).toBe("1"); // a is now the most recent
    c.set("c", "3");
    expect(c.get("b")).toBeUndefined();
    expect(c.get("a")).toBe("1");
    expect(c.get("c")).toBe("3");
    expect(c.size).toBe(2);
  });
});
