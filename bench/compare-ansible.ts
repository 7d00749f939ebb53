import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { islandflowHost, type IslandflowHost } from "../sandbox/islandflow-host.js";
import { npmBridge, requestFromNpm } from "../sandbox/fixtures.js";
import { sandbox } from "../sandbox/sandbox-env.js";
import { stopWaits } from "./docker-stops.js";
import { summarize } from "./stats.js";

/**
 * One half of the tack / Ansible side-by-side, inside a fresh sandbox host (bench/run.ts starts one per tool,
 * so neither inherits the other's state): converge the islandflow example with every scope on Docker, time
 * no-op runs, time the cutover of every scope to native, check what NPM serves, time a no-op again.
 * Both tools run as the command a user would type (`tack apply --yes`, `ansible-playbook`), process start-up
 * included. Args: --tool tack|ansible --runs N --out FILE
 */
const ROOT = path.resolve(import.meta.dirname, "..");
const SCOPES = ["api", "workers", "ingest-options", "web"] as const;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

interface Run {
  ms: number;
  changed: number;
  /** Wall time spent waiting for containers to stop (Docker's events: docker-stops.ts). */
  stopGraceMs: number;
  stops: { container: string; ms: number }[];
  /** tack: the CLI's step lines (`✓ n/total phase [scope] (ms)`), where the rest of the time went. */
  steps?: string[];
}

type Tool = (owner: "docker" | "native") => Promise<Run>;

async function timed(fn: () => Promise<number | { changed: number; steps: string[] }>): Promise<Run> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const out = await fn();
  const ms = Math.round(performance.now() - t0);
  const waits = await stopWaits(wall0, Date.now());
  return { ms, ...(typeof out === "number" ? { changed: out } : out), stopGraceMs: waits.graceMs, stops: waits.stops };
}

function tackTool(h: IslandflowHost): Tool {
  let current = "docker"; // the example's owners; setOwners refuses an edit that changes nothing
  return async (owner) => {
    if (owner !== current) await h.setOwners(Object.fromEntries(SCOPES.map((s) => [s, owner])));
    current = owner;
    return timed(async () => {
      // The compiled package's CLI (bench/run.ts builds it), as a user runs it.
      const r = await execa(process.execPath, [path.join(ROOT, "bin/tack.js"), "apply", h.repo, "--yes", "--state-dir", h.stateDir], { reject: false, cwd: ROOT });
      if (r.exitCode !== 0) throw new Error(`tack apply exited ${r.exitCode}: ${r.stderr}\n${r.stdout}`);
      return { changed: /no changes/i.test(r.stdout) ? 0 : 1, steps: r.stdout.split("\n").filter((l) => /^[✓✗] /.test(l)) };
    });
  };
}

async function ansibleTool(h: IslandflowHost): Promise<Tool> {
  const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
  const { gateway, subnet } = await npmBridge();
  const work = path.join(h.repo, "..", "ansible");
  await mkdir(path.join(sb.home!, ".config/systemd/user"), { recursive: true });
  await mkdir(work, { recursive: true });
  const vars = {
    repo: h.repo,
    home: sb.home,
    xdg_runtime_dir: sb.xdgRuntimeDir,
    docker_host: sb.dockerHost,
    data_root: h.dataRoot,
    npm_data: sb.npmData,
    npm_container: sb.npmContainer ?? "nginx-proxy-manager",
    compose_project: "islandflow",
    bridge_gateway: gateway,
    bridge_subnet: subnet,
    cf_base: `${h.cf.baseURL.replace(/\/$/, "")}`,
    cf_token: process.env.CLOUDFLARE_API_TOKEN,
    zone: "example.org",
    scopes: [
      { name: "api", handoff: "exclusive", unit: "islandflow-api.service", service: "api", native_port: 4000, docker_port: 4000, health_native: "http://127.0.0.1:4000/health", health_docker: "http://127.0.0.1:4000/health" },
      { name: "workers", handoff: "exclusive", unit: "islandflow-workers.service", service: "workers" },
      { name: "ingest-options", handoff: "exclusive", unit: "islandflow-ingest-options.service", service: "ingest-options" },
      { name: "web", handoff: "overlap", unit: "islandflow-web.service", service: "web", native_port: 3000, docker_port: 3000, health_native: "http://127.0.0.1:3000/health", health_docker: "http://127.0.0.1:13000/health" },
    ],
    proxy_hosts: [
      { id: 1, domain: "flow.example.org", scope: "web", websockets: true, block_exploits: true },
      { id: 2, domain: "api.flow.example.org", scope: "api", websockets: true, block_exploits: false },
    ],
    ufw_rules: [
      { port: "22", comment: "ssh" },
      { port: "80", comment: "http" },
      { port: "443", comment: "https" },
      { port: "4000", from: subnet, comment: "npm bridge to native api" },
    ],
    dns_records: [
      { name: "flow.example.org", type: "A", content: "203.0.113.10", proxied: true },
      { name: "api.flow.example.org", type: "A", content: "203.0.113.10", proxied: false },
    ],
  };
  return async (owner) => {
    await writeFile(path.join(work, "vars.json"), JSON.stringify({ ...vars, owners: Object.fromEntries(SCOPES.map((s) => [s, owner])) }));
    return timed(async () => {
      const r = await execa("ansible-playbook", ["-i", "localhost,", "-c", "local", path.join(ROOT, "bench/ansible/islandflow.yml"), "-e", `@${path.join(work, "vars.json")}`], {
        reject: false,
        env: {
          ANSIBLE_NOCOLOR: "1",
          ANSIBLE_PYTHON_INTERPRETER: "/usr/bin/python3",
          ANSIBLE_LOCALHOST_WARNING: "False",
          ANSIBLE_INVENTORY_UNPARSED_WARNING: "False",
          ANSIBLE_HOME: path.join(work, "home"),
          ANSIBLE_LOCAL_TEMP: path.join(work, "tmp"),
          ANSIBLE_REMOTE_TMP: path.join(work, "remote-tmp"),
          ANSIBLE_RETRY_FILES_ENABLED: "False",
        },
      });
      const recap = /localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(r.stdout);
      if (r.exitCode !== 0 || !recap) throw new Error(`ansible-playbook exited ${r.exitCode}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
      return Number(recap[2]);
    });
  };
}

async function served(): Promise<string[]> {
  const out = [];
  for (const host of ["api.flow.example.org", "flow.example.org"]) out.push((await requestFromNpm({ host, path: "/health" })).body.trim());
  return out;
}

const tool = arg("tool", "tack");
const runs = Number(arg("runs", "3"));
const h = await islandflowHost();
try {
  const run = tool === "ansible" ? await ansibleTool(h) : tackTool(h);
  const converge = await run("docker");
  const noop: Run[] = [];
  for (let i = 0; i < runs; i++) noop.push(await run("docker"));
  const servedBefore = await served();
  const cutover = await run("native");
  const servedAfter = await served();
  const noopAfter = await run("native");
  const result = {
    tool,
    converge,
    noopMs: summarize(noop.map((r) => r.ms)),
    noopChanged: noop.map((r) => r.changed),
    cutoverMs: cutover.ms,
    cutoverChanged: cutover.changed,
    // Waiting for containers to stop is the containers' own shutdown (the user's stop grace): reported apart.
    stopGraceMs: cutover.stopGraceMs,
    cutoverStops: cutover.stops,
    ...(cutover.steps ? { cutoverSteps: cutover.steps } : {}),
    noopAfterCutover: noopAfter,
    servedBefore,
    servedAfter,
  };
  if (servedAfter.some((b) => !b.endsWith("native"))) throw new Error(`${tool}: after the cutover NPM serves ${servedAfter.join(", ")}`);
  await writeFile(arg("out", "/dev/stdout"), JSON.stringify(result, null, 2) + "\n");
} finally {
  await h.close();
}
