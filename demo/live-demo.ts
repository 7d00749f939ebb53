import { createHmac } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { simpleGit } from "simple-git";
import { ExecaRunner } from "../core/runner.js";
import { startDaemon, type RunningDaemon } from "../agent/daemon.js";
import type { ReconcileEvent } from "../run/reconcile.js";
import { runCli } from "../cli/program.js";
import { startCloudflareEmulator, type CloudflareEmulator } from "../sandbox/cloudflare-emulator/emulator.js";
import { requestFromNpm } from "../sandbox/fixtures.js";
import { sandbox } from "../sandbox/sandbox-env.js";
import { ISLANDFLOW_AGE_IDENTITY } from "../sandbox/islandflow-host.js";

/**
 * The live demo (`npm run demo`): inside a sandbox host, the islandflow example starts Docker-owned under a real
 * `tack daemon` following a local git repo; then the cutover to native is committed and pushed, a signed webhook
 * tells the agent, and the agent converges the host while this prints each phase as it runs. At the end: who owns
 * each scope, where NPM routes each hostname, the UFW rules, the DNS posture and the /metrics lines that moved.
 */
const EXAMPLE = path.resolve(import.meta.dirname, "../examples/islandflow");
const SCOPES = ["api", "workers", "ingest-options", "web"];
const HOSTNAMES = ["flow.example.org", "api.flow.example.org"];
const WEBHOOK_SECRET = "demo-webhook-secret";
const CF_TOKEN = "demo-cloudflare-token";

const t0 = Date.now();
const say = (line = "") => process.stdout.write(`${line}\n`);
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
const heading = (text: string) => say(`\n${elapsed()}  ── ${text} ${"─".repeat(Math.max(0, 70 - text.length))}`);

function progress(e: ReconcileEvent): void {
  if (e.type === "exec") {
    const ev = e.event;
    const where = `${ev.step.phase}${ev.step.scope ? ` [${ev.step.scope}]` : ""}`;
    const tag = e.purpose === "apply" ? "" : `(${e.purpose}) `;
    if (ev.type === "step-start") say(`${elapsed()}    ${tag}→ ${where}: ${ev.step.gate ? "waiting for health" : ev.step.changes.map((c) => `${c.action} ${c.ref.name}`).join(", ")}`);
    else if (ev.type === "step-done") say(`${elapsed()}    ${tag}✓ ${where} (${ev.ms} ms)${ev.detail ? ` ${ev.detail}` : ""}`);
    else say(`${elapsed()}    ${tag}✗ ${where}: ${ev.error}`);
  } else if (e.type === "rollback-start") say(`${elapsed()}    rolling back to ${e.target}`);
}

async function owners(runner: ExecaRunner): Promise<string[]> {
  const out: string[] = [];
  const ps = await runner.run("docker", ["ps", "--filter", "label=com.docker.compose.project=islandflow", "--format", '{{.Label "com.docker.compose.service"}}']);
  const docker = new Set(ps.stdout.split("\n").filter(Boolean));
  for (const s of SCOPES) {
    const unit = await runner.run("systemctl", ["--user", "is-active", `islandflow-${s}.service`], { okExitCodes: [0, 3, 4] });
    const native = unit.stdout.trim() === "active";
    const who = [native ? "native (systemd --user)" : "", docker.has(s) ? "docker (compose)" : ""].filter(Boolean).join(" + ") || "nothing";
    out.push(`${s.padEnd(15)} ${who}`);
  }
  return out;
}

async function routes(npmData: string): Promise<string[]> {
  const db = new Database(path.join(npmData, "database.sqlite"), { readonly: true });
  try {
    const rows = db.prepare("SELECT domain_names, forward_host, forward_port, enabled FROM proxy_host WHERE is_deleted = 0").all() as {
      domain_names: string;
      forward_host: string;
      forward_port: number;
      enabled: number;
    }[];
    const out: string[] = [];
    for (const host of HOSTNAMES) {
      const row = rows.find((r) => (JSON.parse(r.domain_names) as string[]).includes(host));
      const answer = await requestFromNpm({ host, path: "/health" });
      out.push(`${host.padEnd(22)} → ${row ? `${row.forward_host}:${row.forward_port}` : "(no row)"}   answers: ${answer.ok ? answer.body.trim() : answer.error}`);
    }
    return out;
  } finally {
    db.close();
  }
}

async function firewall(runner: ExecaRunner): Promise<string[]> {
  const r = await runner.run("ufw", ["show", "added"]);
  return r.stdout.split("\n").filter((l) => l.startsWith("ufw "));
}

function metricLines(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("tack_") || line.startsWith("tack_reconcile_duration_seconds_bucket")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

type Git = ReturnType<typeof simpleGit>;

interface DemoRepo {
  /** The bare repo the agent follows. */
  origin: string;
  /** The working clone the demo commits in. */
  work: string;
  /** work/tack.yaml */
  yaml: string;
  git: Git;
}

/** What every phase after the set-up works with. */
interface Demo {
  runner: ExecaRunner;
  /** Scratch dir of this run (repos, agent state, data root). */
  base: string;
  npmData: string;
  repo: DemoRepo;
  cf: CloudflareEmulator;
  /** The agent's environment: Cloudflare's token and the emulator's URL. */
  env: NodeJS.ProcessEnv;
}

/** Phase 1: the islandflow example, pointed at this sandbox, committed and pushed to a bare origin. */
async function setUpRepo(base: string, npmData: string, dataRoot: string): Promise<DemoRepo> {
  heading("a git repo with the islandflow example, Docker owning every scope");
  const origin = path.join(base, "origin.git");
  const work = path.join(base, "work");
  await simpleGit().init(["--bare", "-b", "main", origin]);
  await cp(EXAMPLE, work, { recursive: true });
  const yaml = path.join(work, "tack.yaml");
  // Point the example at this sandbox: its NPM data dir and a private data root.
  await writeFile(
    yaml,
    (await readFile(yaml, "utf8"))
      .replace("dataDir: /home/delta/nginx-proxy-manager/data", `dataDir: ${npmData}`)
      .replaceAll("/var/lib/islandflow", dataRoot), // the data root, and the api's secret under it
  );
  for (const f of await readdir(path.join(work, "units"))) {
    const p = path.join(work, "units", f);
    await writeFile(p, (await readFile(p, "utf8")).replaceAll("/var/lib/islandflow", dataRoot));
  }
  const git = simpleGit(work);
  await git.init(["-b", "main"]).addConfig("user.email", "demo@tack.invalid").addConfig("user.name", "tack demo");
  await git.add(".").commit("islandflow: Docker owns every scope").addRemote("origin", origin).push("origin", "main");
  say(`${elapsed()}    pushed ${(await git.revparse(["HEAD"])).slice(0, 12)} to ${origin}`);
  return { origin, work, yaml, git };
}

/** Phase 2a: a real `tack daemon` following origin, talking to the Cloudflare emulator. */
async function startAgent(demo: Demo): Promise<RunningDaemon> {
  heading("tack daemon --repo origin.git --branch main (Cloudflare: a local API v4 emulator)");
  const d = await startDaemon({
    repo: demo.repo.origin,
    branch: "main",
    intervalMs: 60_000,
    listen: "127.0.0.1:0",
    stateDir: path.join(demo.base, "state"),
    webhookSecret: WEBHOOK_SECRET,
    ageIdentity: ISLANDFLOW_AGE_IDENTITY,
    runner: demo.runner,
    env: demo.env,
    log: (line) => say(`${elapsed()}    agent: ${line}`),
    onEvent: progress,
  });
  say(`${elapsed()}    listening on ${d.url}; the status page: ${d.url}/`);
  return d;
}

/** Phase 2b: the first converge, on the Docker baseline; returns the metrics then, to show what moved. */
async function baseline(demo: Demo, d: RunningDaemon): Promise<Map<string, string>> {
  await waitFor("the first converge", () => d.status().appliedRevision !== undefined && d.status().lastReconcile !== undefined, 240_000);
  heading("converged on the Docker baseline");
  const compose = d.status().compose;
  if (compose) say(`           Compose in use: ${compose.flavor} ${compose.version} (as tack status shows it)`);
  for (const l of await owners(demo.runner)) say(`           ${l}`);
  for (const l of await routes(demo.npmData)) say(`           ${l}`);
  return metricLines(await d.metrics.metrics());
}

/** Phase 3a: the cutover branch and its pull-request plan, as `tack plan` prints it. */
async function cutoverPlan(repo: DemoRepo): Promise<void> {
  heading("the cutover pull request: owner docker → native for all four scopes");
  await writeFile(repo.yaml, (await readFile(repo.yaml, "utf8")).replace(/^(\s+)owner: docker$/gm, "$1owner: native"));
  await repo.git.checkout(["-b", "native-cutover"]).add(".").commit("Cut api, workers, ingest-options and web over to native");
  say("  $ tack plan --repo . --base main --head native-cutover");
  const plan: string[] = [];
  const code = await runCli(["plan", "--repo", repo.work, "--base", "main", "--head", "native-cutover"], { out: (l) => plan.push(l), err: (l) => plan.push(l) });
  for (const l of plan.join("\n").split("\n")) say(`  ${l}`);
  if (code !== 0) throw new Error(`tack plan exited ${code}`);
}

/** Phase 3b: merge and push, a signed webhook, and the wait for the agent to converge on the new head. */
async function mergeAndConverge(repo: DemoRepo, d: RunningDaemon): Promise<void> {
  heading("merge and push; a signed GitHub webhook tells the agent at once");
  await repo.git.checkout("main").merge(["--ff-only", "native-cutover"]).push("origin", "main");
  const head = (await repo.git.revparse(["HEAD"])).trim();
  const body = JSON.stringify({ ref: "refs/heads/main", after: head });
  const sig = "sha256=" + createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex");
  const res = await fetch(`${d.url}/hooks/git`, { method: "POST", body, headers: { "content-type": "application/json", "x-github-event": "push", "x-hub-signature-256": sig } });
  say(`${elapsed()}    POST /hooks/git → ${res.status}`);
  const pushed = Date.now();
  await waitFor("the cutover", () => d.status().appliedRevision === head || d.status().lastError !== undefined, 300_000);
  if (d.status().appliedRevision !== head) throw new Error(`the cutover did not converge: ${d.status().lastError}`);
  say(`${elapsed()}    converged on ${head.slice(0, 12)} ${((Date.now() - pushed) / 1000).toFixed(1)} s after the push`);
}

/** Phase 4: owners, NPM routes, UFW rules, DNS records and the /metrics lines that moved since the baseline. */
async function endState(demo: Demo, d: RunningDaemon, before: Map<string, string>): Promise<void> {
  heading("end state");
  say("  owner of each scope:");
  for (const l of await owners(demo.runner)) say(`           ${l}`);
  say("  where NPM routes each hostname (the native upstream is the npm_default bridge gateway):");
  for (const l of await routes(demo.npmData)) say(`           ${l}`);
  say("  UFW rules:");
  for (const l of await firewall(demo.runner)) say(`           ${l}`);
  say("  DNS posture (Cloudflare):");
  for (const r of demo.cf.records("example.org")) say(`           ${r.type} ${r.name.padEnd(22)} ${r.content}  ${r.proxied ? "proxied" : "DNS-only"}  ${r.comment ?? ""}`);
  say("  /metrics lines that changed:");
  const after = metricLines(await d.metrics.metrics());
  for (const [k, v] of after) if (before.get(k) !== v && !k.startsWith("tack_reconcile_duration_seconds")) say(`           ${k} ${before.get(k) ?? "(new)"} → ${v}`);
}

/** With `keep`: the agent stays up (and its status page with it) until Enter is pressed. */
async function keepUp(d: RunningDaemon): Promise<void> {
  heading("the agent stays up: press Enter to stop it and tear down");
  say(`           status page: ${d.url}/   (/status, /metrics beside it)`);
  // The sandbox host has its own network namespace: a browser outside reaches it through its launcher's netns.
  say("           it listens inside the sandbox host's network namespace; from another terminal, as root:");
  say(`           nsenter --target $(pgrep -n -f 'tsx demo/main.ts') --net busybox wget -qO- ${d.url}/status`);
  say(`           nsenter --target $(pgrep -n -f 'tsx demo/main.ts') --net chromium --user-data-dir=$(mktemp -d) ${d.url}/`);
  process.stdin.resume();
  await new Promise<void>((resolve) => {
    process.stdin.once("data", () => resolve());
    process.stdin.once("end", () => resolve());
  });
  process.stdin.pause();
}

/** Set up, baseline, cutover (plan, merge, converge), end state; teardown whatever happened. */
export async function liveDemo(options: { keep: boolean } = { keep: false }): Promise<void> {
  const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
  const npmData = sb.npmData!;
  const base = await mkdtemp(path.join(sb.dir, "demo-"));
  const dataRoot = path.join(base, "data");
  await mkdir(dataRoot, { recursive: true });
  const repo = await setUpRepo(base, npmData, dataRoot);

  const cf = await startCloudflareEmulator({ token: CF_TOKEN, zones: [{ name: "example.org" }] });
  const env = { ...process.env, CLOUDFLARE_API_TOKEN: CF_TOKEN, CLOUDFLARE_BASE_URL: cf.baseURL };
  Object.assign(process.env, { CLOUDFLARE_API_TOKEN: CF_TOKEN, CLOUDFLARE_BASE_URL: cf.baseURL });
  const demo: Demo = { runner: new ExecaRunner(), base, npmData, repo, cf, env };

  let daemon: RunningDaemon | undefined;
  try {
    daemon = await startAgent(demo);
    const before = await baseline(demo, daemon);
    await cutoverPlan(repo);
    await mergeAndConverge(repo, daemon);
    await endState(demo, daemon, before);
    if (options.keep) await keepUp(daemon);
  } finally {
    heading("tearing down");
    await daemon?.stop();
    await cf.close();
  }
  say(`${elapsed()}    done`);
}
