import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PHASES } from "../../core/changes.js";
import { ApplyError, TransientError, UserError } from "../../core/errors.js";
import type { DesiredComposeService } from "../../core/resources.js";
import { ExecaRunner } from "../../core/runner.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { desiredService, httpOk, mutationsSince, writeComposeProject } from "../../sandbox/runtime-fixtures.js";
import { ComposeDriver } from "./compose-driver.js";
import { planServices } from "./compose-plan.js";

const host = sandbox({ parts: ["docker"] });
const image = host.busyboxImage!;
const runner = new ExecaRunner();
const driver = new ComposeDriver({ runner });
const dir = join(host.dir, "compose-test");
const file = writeComposeProject(dir, [{ name: "api", port: 8080, publish: 18201 }, { name: "web", port: 8080, publish: 18202 }], image);
const api = desiredService("tackc", "api", file);
const web = desiredService("tackc", "web", file, { scope: "web" });
/** api as last converged (its env changes in one test). */
let apiNow = api;

async function converge(desired: DesiredComposeService[], d = driver): Promise<string[]> {
  const mark = runner.history.length;
  const changes = planServices(desired, await d.observe(desired));
  for (const phase of PHASES) {
    const batch = changes.filter((c) => c.phase === phase);
    if (batch.length) await d.apply(batch);
  }
  return mutationsSince(runner, mark);
}

async function waitHttp(url: string, want: boolean): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if ((await httpOk(url)) === want) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const composeCmd = (host.compose ?? []).join(" ");

/** Compose processes (v1 `docker-compose`, v2 `docker compose`) run through the shared runner since a mark. */
function composeRuns(mark: number): string[] {
  return runner.history
    .slice(mark)
    .filter((r) => r.file === "docker-compose" || (r.file === "docker" && r.args[0] === "compose"))
    .map((r) => r.args.slice(r.args.indexOf("config") >= 0 ? r.args.indexOf("config") : -1).join(" "));
}

describe("compose driver on a real dockerd", () => {
  it("detects the compose flavor the sandbox offers, once (v2 preferred: v1 runs hide the plugin)", async () => {
    expect(await driver.flavor()).toBe(host.composeFlavor);
    expect(await driver.flavor()).toBe(composeCmd === "docker compose" ? "v2" : "v1");
    expect((await driver.detect()).version).toBe(host.composeVersion);
    const before = runner.history.length;
    await driver.flavor();
    expect(runner.history.length).toBe(before);
  });

  it("a file that still has `version:`, a label value holding `,key=`: observed exactly, converged in one up", async () => {
    const vdir = join(host.dir, "compose-versioned");
    const labels = { "tack.test": "a,com.docker.compose.service=evil,com.docker.compose.oneoff=True" };
    const vfile = writeComposeProject(vdir, [{ name: "svc", port: 8080, labels }], image, { version: "2.4" });
    const svc = desiredService("tackv", "svc", vfile, { scope: "versioned" });
    expect(await converge([svc])).toHaveLength(1);
    const seen = (await driver.observe([svc])).get(svc.name)!;
    expect(seen.containers).toMatchObject([{ state: "running", configHash: seen.expectedHash }]);
    // v2 names containers project-service-N, v1 project_service_N; tack reads neither, only labels.
    expect(seen.containers[0]!.name).toBe(host.composeFlavor === "v2" ? "tackv-svc-1" : "tackv_svc_1");
    expect(await converge([svc])).toEqual([]);
    expect(await converge([{ ...svc, state: "removed" }])).toHaveLength(1);
  });

  it("brings two services up in one batched call, then converges with zero mutations", async () => {
    const ran = await converge([api, web]);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/ up -d --no-deps api web$/);
    expect(await waitHttp("http://127.0.0.1:18201/health", true)).toBe(true);
    const seen = await driver.observe([api, web]);
    expect(seen.get(api.name)!.containers).toMatchObject([{ state: "running", configHash: seen.get(api.name)!.expectedHash }]);
    expect(await converge([api, web])).toEqual([]);
  });

  it("a stopped service is started again", async () => {
    await driver.stop([api]);
    expect(await waitHttp("http://127.0.0.1:18201/health", false)).toBe(true);
    const plan = planServices([api], await driver.observe([api]));
    expect(plan.map((c) => `${c.action} ${c.reason}`)).toEqual(["update start"]);
    const ran = await converge([api]);
    expect(ran).toHaveLength(1);
    expect(await waitHttp("http://127.0.0.1:18201/health", true)).toBe(true);
    expect(await converge([api, web])).toEqual([]);
  });

  it("recreates a service whose configuration changed (config hash drift), and only that one", async () => {
    const before = (await driver.observe([api])).get(api.name)!.containers[0]!.id;
    writeComposeProject(dir, [{ name: "api", port: 8080, publish: 18201, environment: { EDITION: "2" } }, { name: "web", port: 8080, publish: 18202 }], image);
    const plan = planServices([api, web], await driver.observe([api, web]));
    expect(plan.map((c) => `${c.ref.name} ${c.risk} ${c.fields.map((f) => f.field).join(",")}`)).toEqual(["tackc/api disruptive configHash"]);
    const ran = await converge([api, web]);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/ up -d --no-deps api$/);
    const after = (await driver.observe([api])).get(api.name)!.containers;
    expect(after).toHaveLength(1);
    expect(after[0]!.id).not.toBe(before);
    expect(await waitHttp("http://127.0.0.1:18201/health", true)).toBe(true);
    expect(await converge([api, web])).toEqual([]);
  });

  it("passes the desired env to compose: a changed value recreates the service that interpolates it", async () => {
    writeComposeProject(dir, [{ name: "api", port: 8080, publish: 18201, environment: { EDITION: "${TACK_TEST_EDITION:-2}" } }, { name: "web", port: 8080, publish: 18202 }], image);
    expect(await converge([api, web])).toEqual([]);
    const withEnv = { ...api, env: { TACK_TEST_EDITION: "3" } };
    apiNow = withEnv;
    const ran = await converge([withEnv, web]);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/ up -d --no-deps api$/);
    expect(await converge([withEnv, web])).toEqual([]);
  });

  it("removes a retired service's containers (rm -s -f), then converges", async () => {
    const gone = { ...web, state: "removed" as const };
    const ran = await converge([gone]);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/ rm -s -f web$/);
    expect((await driver.observe([gone])).get(web.name)!.containers).toEqual([]);
    expect(await converge([gone, apiNow])).toEqual([]);
  });

  it("unknown service: a UserError naming it, before anything runs", async () => {
    const ghost = desiredService("tackc", "ghost", file);
    const mark = runner.history.length;
    const err = await driver.observe([ghost]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/compose.service tackc\/ghost: service "ghost" is not defined/);
    expect(mutationsSince(runner, mark)).toEqual([]);
  });

  it("missing image: an ApplyError naming the service, no pull attempted", async () => {
    const f2 = writeComposeProject(join(host.dir, "compose-missing"), [{ name: "lost", port: 8080, image: "tack-not-built:nowhere" }], image);
    const lost = desiredService("tackm", "lost", f2);
    const mark = runner.history.length;
    const err = await converge([lost]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as Error).message).toMatch(/image missing for service lost \(tack-not-built:nowhere\)/);
    expect(mutationsSince(runner, mark)).toEqual([]);
  });

  it("unreachable Docker: a TransientError naming the services", async () => {
    const dead = new ExecaRunner({ env: { DOCKER_HOST: `unix://${join(host.dir, "no-such-docker.sock")}` } });
    const d = new ComposeDriver({ runner: dead });
    const err = await d.observe([api]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/Docker is unreachable for compose.service tackc\/api/);
  });

  describe("config cache", () => {
    const cdir = join(host.dir, "compose-cache");
    const tag = "tack-cache-test:1";
    const cfile = () => writeComposeProject(cdir, [{ name: "svc", port: 8080, image: tag, environment: { EDITION: "1" } }], image);
    const svc = desiredService("tackcache", "svc", join(cdir, "docker-compose.yml"), { scope: "cache" });
    const uncached = () => new ComposeDriver({ runner, outputCache: false });

    it("a second observe of an unchanged project spawns no compose process, with the same result", async () => {
      cfile();
      await runner.run("docker", ["tag", image, tag], { mutates: true });
      expect(await converge([svc])).toHaveLength(1);
      const mark = runner.history.length;
      const first = await driver.observe([svc]);
      const second = await new ComposeDriver({ runner, flavor: await driver.flavor() }).observe([svc]);
      expect(second).toEqual(first);
      expect(composeRuns(mark).length).toBeLessThanOrEqual(2);
      const secondMark = runner.history.length;
      await driver.observe([svc]);
      expect(composeRuns(secondMark)).toEqual([]);
      // Both run at once (ps beside the config chain): the set, not the order they finish in.
      expect(runner.history.slice(secondMark).map((r) => `${r.file} ${r.args.slice(0, 2).join(" ")}`).sort()).toEqual(["docker image inspect", "docker ps -a"]);
      expect(first.get(svc.name)!.expectedHash).toBe(first.get(svc.name)!.containers[0]!.configHash);
      expect(await converge([svc])).toEqual([]);
    });

    it("an edited compose file: the next observe reports compose's new hash and plans a recreate; after up it is converged", async () => {
      const before = (await driver.observe([svc])).get(svc.name)!.expectedHash;
      writeComposeProject(cdir, [{ name: "svc", port: 8080, image: tag, environment: { EDITION: "2" } }], image);
      const mark = runner.history.length;
      const seen = await driver.observe([svc]);
      expect(composeRuns(mark)).toEqual(["config", "config --hash=svc"]);
      const truth = (await uncached().observe([svc])).get(svc.name)!.expectedHash;
      expect(seen.get(svc.name)!.expectedHash).toBe(truth);
      expect(truth).not.toBe(before);
      expect(planServices([svc], seen).map((c) => `${c.action} ${c.fields.map((f) => f.field).join(",")}`)).toEqual(["update configHash"]);
      expect(await converge([svc])).toHaveLength(1);
      const after = (await driver.observe([svc])).get(svc.name)!;
      expect(after.containers[0]!.configHash).toBe(truth);
      expect(await converge([svc])).toEqual([]);
    });

    it("a retagged image (new ID): the cached hash is bypassed and the hash is what compose says", async () => {
      const before = (await driver.observe([svc])).get(svc.name)!.expectedHash;
      await runner.run("docker", ["build", "-q", "-t", "tack-cache-test:2", "-"], { mutates: true, input: `FROM ${image}\nLABEL tack.cache-test=2\n` });
      await runner.run("docker", ["tag", "tack-cache-test:2", tag], { mutates: true });
      const mark = runner.history.length;
      const seen = (await driver.observe([svc])).get(svc.name)!.expectedHash;
      expect(composeRuns(mark)).toEqual(["config --hash=svc"]);
      const truth = (await uncached().observe([svc])).get(svc.name)!.expectedHash;
      expect(seen).toBe(truth);
      // v1 folds the image ID into the hash (compose-driver.ts); v2 does not.
      if (composeCmd === "docker-compose") expect(seen).not.toBe(before);
      const again = runner.history.length;
      expect((await driver.observe([svc])).get(svc.name)!.expectedHash).toBe(truth);
      expect(composeRuns(again)).toEqual([]);
    });

    it("with the image gone, observe falls back to compose (no cache for the hash); then cleans up", async () => {
      await converge([{ ...svc, state: "removed" }]);
      await runner.run("docker", ["rmi", tag, "tack-cache-test:2"], { mutates: true });
      const mark = runner.history.length;
      const seen = (await driver.observe([svc])).get(svc.name)!;
      expect(seen.containers).toEqual([]);
      expect(composeRuns(mark)).toEqual(["config --hash=svc"]);
    });
  });

  it("cleans up", async () => {
    const ran = await converge([{ ...apiNow, state: "removed" }, { ...web, state: "removed" }]);
    expect(ran).toHaveLength(1);
    expect(await converge([{ ...apiNow, state: "removed" }, { ...web, state: "removed" }])).toEqual([]);
  });
});
