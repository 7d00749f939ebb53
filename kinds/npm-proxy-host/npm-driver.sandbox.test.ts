/**
 * The NPM driver against the sandbox host: a real SQLite database with NPM's schema, the NPM stand-in
 * container (nginx 1.22) on npm_default, a Compose service `api` on that network answering "docker", a
 * native busybox httpd under systemd --user on 0.0.0.0:4000 answering "native", reached through the
 * bridge gateway IP with a UFW allow from the bridge subnet.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplyError, UserError } from "../../core/errors.js";
import { ExecaRunner } from "../../core/runner.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import { busyboxHttpUnit, composeFile, requestFromNpm, writeHealthDir } from "../../sandbox/fixtures.js";
import { createNpmDatabase } from "../../sandbox/npm-schema.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { readNpmBridge, type NpmBridge } from "./bridge.js";
import { NpmProxyHostDriver } from "./npm-driver.js";
import type { ProxyHostRow } from "./row.js";
import { planProxyHosts } from "./proxy-host-plan.js";

const API = "api.flow.example.org";
const UNIT = "tack-test-native-api.service";

const sb = sandbox({ parts: ["ufw", "systemd", "docker", "npm"] });
const data = sb.npmData!;
const container = sb.npmContainer!;
const network = sb.npmNetwork!;
const runner = new ExecaRunner({ defaultTimeoutMs: 60_000 });
const work = mkdtempSync(join(sb.dir, "npm-driver-"));
const composePath = join(work, "docker-compose.yml");
const compose = [...sb.compose!, "-p", "flow", "-f", composePath];
let bridge: NpmBridge;
let driver: NpmProxyHostDriver;

function desired(upstream: "docker" | "native", over: Partial<DesiredProxyHost> = {}): DesiredProxyHost {
  return {
    kind: "npm.proxyHost",
    name: API,
    domains: [API],
    forwardScheme: "http",
    forwardHost: upstream === "docker" ? "api" : bridge.gateway,
    forwardPort: 4000,
    enabled: true,
    websockets: true,
    blockExploits: true,
    adopt: false,
    scope: "api",
    probePath: "/health",
    ...over,
  };
}

async function converge(hosts: DesiredProxyHost[]) {
  const plan = planProxyHosts(hosts, await driver.observe(hosts));
  await driver.apply(plan);
  return plan;
}

/** GET /health from inside the NPM container with a Host header: the body, or why not. */
async function eventually(get: () => Promise<string>, ok: (v: string) => boolean, timeoutMs = 5000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function body(host = API): Promise<string> {
  // Right after `nginx -s reload` an old worker may close a connection it accepted but had not read yet:
  // a client sees no response at all. Retry that case only; any HTTP answer counts.
  for (let i = 0; i < 5; i++) {
    const r = await requestFromNpm({ host, path: "/health", timeoutMs: 5000 });
    if (r.ok) return r.body.trim();
    if (r.status !== undefined) return `not ok: ${r.status}`;
    await new Promise((res) => setTimeout(res, 300));
  }
  return "not ok: no response";
}

function rowOf(domain = API): ProxyHostRow {
  const db = new Database(join(data, "database.sqlite"), { readonly: true });
  try {
    const rows = db.prepare("SELECT * FROM proxy_host WHERE is_deleted = 0").all() as ProxyHostRow[];
    return rows.find((r) => (JSON.parse(r.domain_names) as string[]).includes(domain))!;
  } finally {
    db.close();
  }
}

function confOf(id: number): string {
  return readFileSync(join(data, "nginx/proxy_host", `${id}.conf`), "utf8");
}

/** Everything apply could write: the database, the confs, the backups and the inventory. */
function fingerprint(): string {
  const h = createHash("sha256");
  for (const dir of [join(data, "nginx/proxy_host"), join(work, "state"), join(work, "state/npm-backups")]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort()) {
      h.update(f).update(readFileSync(join(dir, f)));
    }
  }
  h.update(readFileSync(join(data, "database.sqlite")));
  return h.digest("hex");
}

beforeAll(async () => {
  bridge = await readNpmBridge(runner, network);
  // The docker upstream: compose service `api` on NPM's network, answering "docker".
  writeFileSync(composePath, composeFile({ services: [{ name: "api", port: 4000, body: "docker" }], network }));
  await runner.run(compose[0]!, [...compose.slice(1), "up", "-d"], { mutates: true, timeoutMs: 120_000 });
  // The native upstream: busybox httpd under systemd --user on 0.0.0.0:4000, answering "native".
  const www = join(work, "native-www");
  writeHealthDir(www, "native\n");
  const unitDir = join(sb.home!, ".config/systemd/user");
  mkdirSync(unitDir, { recursive: true });
  writeFileSync(join(unitDir, UNIT), busyboxHttpUnit({ description: "native api (npm driver test)", port: 4000, dir: www }));
  await runner.run("systemctl", ["--user", "daemon-reload"], { mutates: true });
  await runner.run("systemctl", ["--user", "start", UNIT], { mutates: true });
  // The reference's outage: NPM's bridge reaches a native port only once UFW allows its subnet.
  await runner.run("ufw", ["allow", "proto", "tcp", "from", bridge.subnet, "to", "any", "port", "4000", "comment", "npm bridge to native api"], { mutates: true });
  for (let i = 0; i < 60; i++) {
    const ps = await runner.run("docker", ["ps", "--filter", "label=com.docker.compose.project=flow", "--filter", "label=com.docker.compose.service=api", "--format", "{{.Status}}"]);
    if (ps.stdout.includes("(healthy)")) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  driver = new NpmProxyHostDriver({ runner, dataDir: data, container, stateDir: join(work, "state"), backupsToKeep: 3 });
}, 180_000);

afterAll(async () => {
  await runner.run(compose[0]!, [...compose.slice(1), "down"], { mutates: true, okExitCodes: [0, 1] }).catch(() => undefined);
  await runner.run("systemctl", ["--user", "stop", UNIT], { mutates: true, okExitCodes: [0, 5] }).catch(() => undefined);
});

describe("NPM proxy host driver on the sandbox host", () => {
  it("creates the host on the docker upstream, and converges (second plan empty)", async () => {
    const plan = await converge([desired("docker")]);
    expect(plan.map((c) => c.action)).toEqual(["create"]);
    expect(await body()).toBe("docker");
    expect(planProxyHosts([desired("docker")], await driver.observe([desired("docker")]))).toEqual([]);
    const row = rowOf();
    expect(JSON.parse(row.meta)).toMatchObject({ nginx_online: true, nginx_err: null });
    expect(row.created_on).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it("switches to the native upstream through the bridge gateway and back, each switch serving the new body", async () => {
    const toNative = await converge([desired("native")]);
    expect(toNative[0]!.fields).toEqual([{ field: "forwardHost", from: "api", to: bridge.gateway }]);
    expect(await body()).toBe("native");
    expect(confOf(rowOf().id)).toContain(`set $server         "${bridge.gateway}";`);
    // The driver's own probe went through NPM and its log names the upstream that answered it.
    const log = readFileSync(join(data, "logs", `proxy-host-${rowOf().id}_access.log`), "utf8");
    expect(log.split("\n").filter((l) => l.includes("tack-probe/")).at(-1)).toContain(`[Sent-to ${bridge.gateway}]`);
    await converge([desired("docker")]);
    expect(await body()).toBe("docker");
    await converge([desired("native")]);
    expect(await body()).toBe("native");
  });

  it("a second apply runs zero mutating commands and writes nothing", async () => {
    const before = fingerprint();
    const mutations = runner.mutations().length;
    const plan = await converge([desired("native")]);
    expect(plan).toEqual([]);
    expect(runner.mutations().length).toBe(mutations);
    expect(fingerprint()).toBe(before);
  });

  it("reverts a switch whose upstream does not answer through NPM (the reference's UFW outage)", async () => {
    const rule = ["proto", "tcp", "from", bridge.subnet, "to", "any", "port", "4000"];
    await converge([desired("docker")]);
    const before = rowOf();
    const conf = confOf(before.id);
    await runner.run("ufw", ["delete", "allow", ...rule], { mutates: true });
    try {
      const impatient = new NpmProxyHostDriver({ runner, dataDir: data, container, stateDir: join(work, "state"), probeTimeoutMs: 3000 });
      const hosts = [desired("native")];
      const err = await impatient.apply(planProxyHosts(hosts, await impatient.observe(hosts))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplyError);
      expect((err as Error).message).toMatch(/probe through NPM failed.*restored/);
      expect(rowOf()).toMatchObject({ forward_host: "api", modified_on: before.modified_on });
      expect(confOf(before.id)).toBe(conf);
      expect(await body()).toBe("docker");
    } finally {
      await runner.run("ufw", ["allow", ...rule, "comment", "npm bridge to native api"], { mutates: true });
    }
    await converge([desired("native")]);
    expect(await body()).toBe("native");
  });

  it("a bad advanced_config is refused by nginx -t: previous row and conf keep serving, .err kept", async () => {
    const row = rowOf();
    const conf = confOf(row.id);
    const bad = desired("docker", { advancedConfig: "proxy_bogus_directive on;" });
    const err = await converge([bad]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect(String((err as Error).message)).toMatch(/unknown directive "proxy_bogus_directive"/);
    const after = rowOf();
    expect(after.forward_host).toBe(row.forward_host);
    expect(after.advanced_config).toBe("");
    expect(JSON.parse(after.meta)).toMatchObject({ nginx_online: false });
    expect(JSON.parse(after.meta).nginx_err).toMatch(/proxy_bogus_directive/);
    expect(confOf(row.id)).toBe(conf);
    expect(readFileSync(join(data, "nginx/proxy_host", `${row.id}.conf.err`), "utf8")).toContain("proxy_bogus_directive on;");
    expect(await body()).toBe("native");
    // A config that would close the server block never reaches nginx at all.
    await expect(converge([desired("native", { advancedConfig: "}\nserver {" })])).rejects.toThrow(UserError);
    // The next good apply clears the .err file and the error in meta.
    await converge([desired("native", { advancedConfig: "" })]);
    expect(existsSync(join(data, "nginx/proxy_host", `${row.id}.conf.err`))).toBe(false);
    expect(JSON.parse(rowOf().meta)).toMatchObject({ nginx_online: true, nginx_err: null });
  });

  it("does not lose the change while another writer holds the database (BEGIN EXCLUSIVE for ~3 s)", async () => {
    const holder: ResultPromise = execa("node", ["-e", `
      const D = require("better-sqlite3"); const db = new D(process.argv[1]);
      db.exec("BEGIN EXCLUSIVE"); console.log("locked");
      setTimeout(() => { db.exec("COMMIT"); db.close(); }, 3000);`, join(data, "database.sqlite")], { cwd: process.cwd() });
    await new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve()));
    const started = Date.now();
    await converge([desired("docker")]);
    await holder;
    expect(Date.now() - started).toBeGreaterThan(2000);
    expect(rowOf().forward_host).toBe("api");
    expect(await body()).toBe("docker");
  });

  it("reports hand edits of the row (NPM's UI) and of the conf as drift, field by field, and corrects them", async () => {
    const id = rowOf().id;
    const db = new Database(join(data, "database.sqlite"));
    db.prepare("UPDATE proxy_host SET forward_host = ? WHERE id = ?").run(bridge.gateway, id);
    db.close();
    let plan = planProxyHosts([desired("docker")], await driver.observe([desired("docker")]));
    expect(plan.map((c) => c.fields)).toEqual([[{ field: "forwardHost", from: bridge.gateway, to: "api" }]]);
    await driver.apply(plan);
    expect(rowOf().forward_host).toBe("api");

    writeFileSync(join(data, "nginx/proxy_host", `${id}.conf`), confOf(id).replace("set $port           4000;", "set $port           4001;"));
    const actual = await driver.observe([desired("docker")]);
    expect(actual.get(API)!.confMatches).toBe(false);
    plan = planProxyHosts([desired("docker")], actual);
    expect(plan.map((c) => c.fields)).toEqual([[{ field: "conf", from: "edited by hand", to: "rendered from the row" }]]);
    await driver.apply(plan);
    expect(confOf(id)).toContain("set $port           4000;");
    expect(await body()).toBe("docker");
    expect(planProxyHosts([desired("docker")], await driver.observe([desired("docker")]))).toEqual([]);
  });

  it("adopts a row made in NPM's UI for the same domains and leaves other rows alone", async () => {
    const db = new Database(join(data, "database.sqlite"));
    const insert = db.prepare(
      "INSERT INTO proxy_host (created_on, modified_on, owner_user_id, domain_names, forward_host, forward_port, meta, locations, certificate_id) VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, ?, ?, 4000, '{}', '[]', ?)",
    );
    const web = Number(insert.run(JSON.stringify(["web.flow.example.org"]), "api", 0).lastInsertRowid);
    const blog = Number(insert.run(JSON.stringify(["blog.example.org"]), "ghost", 0).lastInsertRowid);
    db.close();
    const hosts = [desired("docker"), desired("native", { name: "web.flow.example.org", domains: ["web.flow.example.org"], scope: "web" })];
    const plan = planProxyHosts(hosts, await driver.observe(hosts));
    expect(plan).toHaveLength(1);
    expect(plan[0]!.fields.map((f) => f.field)).toEqual(["ownership", "forwardHost", "websockets", "blockExploits"]);
    await driver.apply(plan);
    expect(rowOf("web.flow.example.org").id).toBe(web);
    expect(await body("web.flow.example.org")).toBe("native");
    expect(rowOf("blog.example.org")).toMatchObject({ id: blog, forward_host: "ghost", modified_on: "2026-01-01 00:00:00" });
    expect(existsSync(join(data, "nginx/proxy_host", `${blog}.conf`))).toBe(false);
    expect(planProxyHosts(hosts, await driver.observe(hosts))).toEqual([]);
  });

  it("disables a host (enabled=0, conf removed) and soft-deletes it when it leaves the desired state", async () => {
    const id = rowOf().id;
    const web = desired("native", { name: "web.flow.example.org", domains: ["web.flow.example.org"], scope: "web" });
    const off = [desired("docker", { enabled: false }), web];
    await converge(off);
    expect(rowOf().enabled).toBe(0);
    expect(existsSync(join(data, "nginx/proxy_host", `${id}.conf`))).toBe(false);
    // `nginx -s reload` returns once the master is signalled: old workers may answer a moment longer.
    expect(await eventually(() => body(), (b) => /not ok: 404/.test(b))).toMatch(/not ok: 404/);
    expect(await body("web.flow.example.org")).toBe("native");
    expect(planProxyHosts(off, await driver.observe(off))).toEqual([]);
    const plan = await converge([]);
    expect(plan.map((c) => [c.action, c.ref.name])).toEqual([["delete", API], ["delete", "web.flow.example.org"]]);
    const db = new Database(join(data, "database.sqlite"), { readonly: true });
    expect(db.prepare("SELECT is_deleted FROM proxy_host WHERE id = ?").get(id)).toEqual({ is_deleted: 1 });
    db.close();
    expect(readdirSync(join(work, "state/npm-backups")).length).toBeLessThanOrEqual(3);
    expect(planProxyHosts([], await driver.observe([]))).toEqual([]);
  });

  it("writes a database from before NPM 2.14 (no trust_forwarded_proto column)", async () => {
    const dbPath = join(data, "database.sqlite");
    renameSync(dbPath, `${dbPath}.2-15`);
    try {
      createNpmDatabase(dbPath, { trustForwardedProto: false });
      const old = new NpmProxyHostDriver({ runner, dataDir: data, container, stateDir: join(work, "state-2-13") });
      await old.apply(planProxyHosts([desired("docker")], await old.observe([desired("docker")])));
      expect(await body()).toBe("docker");
      expect(rowOf()).not.toHaveProperty("trust_forwarded_proto");
      expect(planProxyHosts([desired("docker")], await old.observe([desired("docker")]))).toEqual([]);
      await old.apply(planProxyHosts([], await old.observe([])));
    } finally {
      renameSync(`${dbPath}.2-15`, dbPath);
    }
  });
});

describe("one apply is one batch: one nginx -t, one reload, one probe pass", () => {
  const batchHost = (i: number, over: Partial<DesiredProxyHost> = {}) =>
    desired("docker", { name: `batch-${i}.example.org`, domains: [`batch-${i}.example.org`], scope: "batch", ...over });
  const hosts = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => batchHost(i));
  const inventoryFile = () => readFileSync(join(work, "state-batch", "npm-proxy-hosts.json"), "utf8");
  const batchDriver = (probeTimeoutMs?: number) =>
    new NpmProxyHostDriver({ runner, dataDir: data, container, stateDir: join(work, "state-batch"), ...(probeTimeoutMs ? { probeTimeoutMs } : {}) });

  it("creates 8 hosts with one nginx -t and one reload, probing them through NPM's published port (no exec)", async () => {
    const fresh = batchDriver();
    const from = runner.history.length;
    await fresh.apply(planProxyHosts(hosts, await fresh.observe(hosts)));
    const cmds = runner.history.slice(from).map((c) => [c.file, ...c.args].join(" "));
    expect(cmds.filter((c) => c.endsWith("nginx -t"))).toHaveLength(1);
    expect(cmds.filter((c) => c.endsWith("nginx -s reload"))).toHaveLength(1);
    // The sandbox NPM publishes port 80: the probe goes from the host, nothing runs in the container for it
    // (the in-container fallback and its one-exec batch: npm-probe.sandbox.test.ts).
    expect(cmds.filter((c) => c.startsWith("docker exec") && !c.startsWith(`docker exec ${container} nginx`))).toEqual([]);
    expect(cmds.filter((c) => c.includes("NetworkSettings.Ports"))).toHaveLength(1);
    for (const h of hosts) {
      const log = readFileSync(join(data, "logs", `proxy-host-${rowOf(h.name).id}_access.log`), "utf8");
      expect(log).toContain("tack-probe/");
    }
    for (const h of hosts) expect(await body(h.name)).toBe("docker");
    expect(planProxyHosts(hosts, await fresh.observe(hosts))).toEqual([]);
    // Another driver (the agent makes one per reconcile) knows this image's nginx version: no `nginx -v` again.
    const next = batchDriver();
    const at = runner.history.length;
    expect(planProxyHosts(hosts, await next.observe(hosts))).toEqual([]);
    expect(runner.history.slice(at).map((c) => [c.file, ...c.args].join(" "))).toEqual([
      `docker inspect ${container} --format {{json .Image}} {{json .Config.Env}}`,
    ]);
  });

  it("a conf nginx refuses puts back the whole batch: other rows, a created row, the inventory; .err for the culprit", async () => {
    const before = { one: rowOf("batch-1.example.org"), two: rowOf("batch-2.example.org"), inventory: inventoryFile() };
    const conf2 = confOf(before.two.id);
    const next = [
      batchHost(1, { advancedConfig: "proxy_bogus_directive on;" }),
      batchHost(2, { blockExploits: false }),
      ...hosts.slice(2),
      batchHost(9),
    ];
    const fresh = batchDriver();
    const plan = planProxyHosts(next, await fresh.observe(next));
    expect(plan.map((c) => `${c.action} ${c.ref.name}`)).toEqual(["update batch-1.example.org", "update batch-2.example.org", "create batch-9.example.org"]);
    const err = await fresh.apply(plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as ApplyError).ref?.name).toBe("batch-1.example.org");
    expect((err as Error).message).toMatch(/nginx -t refused the conf of batch-1\.example\.org, previous row and conf restored: .*proxy_bogus_directive/s);
    const one = rowOf("batch-1.example.org");
    expect(one).toMatchObject({ advanced_config: "", modified_on: before.one.modified_on });
    expect(JSON.parse(one.meta)).toMatchObject({ nginx_online: false });
    expect(readFileSync(join(data, "nginx/proxy_host", `${one.id}.conf.err`), "utf8")).toContain("proxy_bogus_directive on;");
    expect(rowOf("batch-2.example.org")).toEqual(before.two);
    expect(confOf(before.two.id)).toBe(conf2);
    expect(rowOf("batch-9.example.org")).toBeUndefined();
    expect(inventoryFile()).toBe(before.inventory);
    for (const h of ["batch-1.example.org", "batch-2.example.org"]) expect(await body(h)).toBe("docker");
    // Without the bad conf the same batch goes through, and clears the culprit's error.
    const good = [...hosts.slice(0, 1), batchHost(2, { blockExploits: false }), ...hosts.slice(2), batchHost(9)];
    await fresh.apply(planProxyHosts(good, await fresh.observe(good)));
    expect(JSON.parse(rowOf("batch-1.example.org").meta)).toMatchObject({ nginx_online: true, nginx_err: null });
    expect(existsSync(join(data, "nginx/proxy_host", `${one.id}.conf.err`))).toBe(false);
    // The probe now answers through the published port as soon as a new worker serves batch-9; an old worker
    // (from before the reload, without batch-9) may still take the next request for a moment.
    expect(await eventually(() => body("batch-9.example.org"), (b) => b === "docker")).toBe("docker");
    expect(planProxyHosts(good, await fresh.observe(good))).toEqual([]);
  });

  it("a host whose new upstream never answers puts back the whole batch after the reload", async () => {
    const current = [...hosts.slice(0, 1), batchHost(2, { blockExploits: false }), ...hosts.slice(2), batchHost(9)];
    const before = { three: rowOf("batch-3.example.org"), four: rowOf("batch-4.example.org") };
    // Nothing listens on the gateway's port 4999: NPM answers 502 for batch-3.
    const next = current.map((h) =>
      h.name === "batch-3.example.org" ? { ...h, forwardHost: bridge.gateway, forwardPort: 4999 } : h.name === "batch-4.example.org" ? { ...h, websockets: false } : h,
    );
    const impatient = batchDriver(3000);
    const err = await impatient.apply(planProxyHosts(next, await impatient.observe(next))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as ApplyError).ref?.name).toBe("batch-3.example.org");
    expect((err as Error).message).toMatch(/probe through NPM failed after the switch, previous row and conf restored: .*batch-3\.example\.org/);
    expect(rowOf("batch-3.example.org")).toMatchObject({ forward_host: "api", forward_port: 4000, modified_on: before.three.modified_on });
    expect(rowOf("batch-4.example.org")).toMatchObject({ allow_websocket_upgrade: 1, modified_on: before.four.modified_on });
    expect(await eventually(() => body("batch-3.example.org"), (b) => b === "docker")).toBe("docker");
    expect(planProxyHosts(current, await impatient.observe(current))).toEqual([]);
    await impatient.apply(planProxyHosts([], await impatient.observe([])));
  });
});
