import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import path from "node:path";
import { simpleGit, type SimpleGit } from "simple-git";
import { ExecaRunner } from "../../core/runner.js";
import { startDaemon, type DaemonOptions, type RunningDaemon } from "../../agent/daemon.js";
import type { DaemonStatus } from "../../agent/status.js";
import { requestFromNpm } from "../../sandbox/fixtures.js";
import { sandbox } from "../../sandbox/sandbox-env.js";

/**
 * A small desired-state repo for the agent on the sandbox host: one scope `api` (a native busybox unit, or a
 * compose service), one NPM proxy host, UFW. It lives in a bare "remote" repo; `push()` commits a change from a
 * working clone and pushes it, as a user would.
 */
export const API_HOST = "api.daemon.example.org";
const PORT = 14000;

function tackYaml(o: { owner: string; npmData: string; dataRoot: string; sshComment: string; broken?: boolean }): string {
  return `apiVersion: tack/v1
kind: Host
metadata: { name: sandbox-1 }
runtimes:
  native: { systemd: { scope: user } }
  docker:
    compose:
      project: tackd
      files: [compose/docker-compose.yml]
      env: { DATA_ROOT: ${o.dataRoot} }
scopes:
  api:
    owner: ${o.broken ? "kubernetes" : o.owner}
    handoff: exclusive
    native: { units: [tackd-api.service], port: ${PORT} }
    docker: { services: [api], upstream: api, port: ${PORT} }
    health: { http: "http://127.0.0.1:${PORT}/health", timeout: 30s }
edge:
  npm:
    dataDir: ${o.npmData}
    container: nginx-proxy-manager
    network: npm_default
  proxyHosts:
    - { domains: [${API_HOST}], scope: api }
firewall:
  ufw:
    rules:
      - { allow: tcp, port: 22, comment: ${o.sshComment} }
      - { allow: tcp, port: 80, comment: http }
policy:
  mode: enforce
  drift: { interval: 4s }
`;
}

function unitFile(dataRoot: string): string {
  return `[Unit]
Description=tackd api (native)

[Service]
Type=simple
ExecStartPre=/bin/busybox mkdir -p ${dataRoot}/www
ExecStartPre=/bin/busybox sh -c 'echo "api native" > ${dataRoot}/www/health'
ExecStart=/bin/busybox httpd -f -p 0.0.0.0:${PORT} -h ${dataRoot}/www
Restart=on-failure

[Install]
WantedBy=default.target
`;
}

const COMPOSE = `services:
  api:
    image: \${IMAGE:-tack-busybox:sandbox}
    command: ["/bin/busybox", "sh", "-c", "mkdir -p /srv && echo 'api docker' > /srv/health && exec /bin/busybox httpd -f -p ${PORT} -h /srv"]
    ports: ["127.0.0.1:${PORT}:${PORT}"]
    init: true
networks:
  default:
    external: true
    name: npm_default
`;

export interface Spec {
  owner: "native" | "docker" | "none";
  sshComment: string;
  broken?: boolean;
}

export interface DaemonHost {
  base: string;
  remote: string;
  stateDir: string;
  npmData: string;
  runner: ExecaRunner;
  spec: Spec;
  /** Commit the spec (merged with `change`) and push it; returns the commit. */
  push(change: Partial<Spec>, message?: string): Promise<string>;
  start(options?: Partial<DaemonOptions>): Promise<RunningDaemon>;
  status(d: RunningDaemon): Promise<DaemonStatus>;
  /** Which runtime answers through NPM: "native", "docker" or an error text. */
  servedBy(): Promise<string>;
  logs: string[];
}

export async function daemonHost(): Promise<DaemonHost> {
  const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
  const base = await mkdtemp(path.join(sb.dir, "daemon-"));
  const remote = path.join(base, "remote.git");
  const work = path.join(base, "work");
  const stateDir = path.join(base, "state");
  const dataRoot = path.join(base, "data");
  await mkdir(dataRoot, { recursive: true });
  await simpleGit().raw(["init", "--bare", "--initial-branch=main", remote]);
  await simpleGit().clone(remote, work);
  const git: SimpleGit = simpleGit(work);
  await git.addConfig("user.email", "dev@example.org").addConfig("user.name", "dev");
  await git.raw(["checkout", "-B", "main"]);
  await mkdir(path.join(work, "units"), { recursive: true });
  await mkdir(path.join(work, "compose"), { recursive: true });
  await writeFile(path.join(work, "units", "tackd-api.service"), unitFile(dataRoot));
  await writeFile(path.join(work, "compose", "docker-compose.yml"), COMPOSE);
  const spec: Spec = { owner: "docker", sshComment: "ssh" };
  const logs: string[] = [];
  const h: DaemonHost = {
    base,
    remote,
    stateDir,
    npmData: sb.npmData!,
    runner: new ExecaRunner(),
    spec,
    logs,
    async push(change, message) {
      Object.assign(spec, { broken: false }, change);
      await writeFile(path.join(work, "tack.yaml"), tackYaml({ ...spec, npmData: sb.npmData!, dataRoot }));
      await git.add(".");
      await git.commit(message ?? `owner ${spec.owner}, ssh ${spec.sshComment}${spec.broken ? " (broken)" : ""}`, undefined, { "--allow-empty": null });
      await git.push("origin", "main");
      return (await git.revparse(["HEAD"])).trim();
    },
    start: (options = {}) =>
      startDaemon({
        repo: remote,
        branch: "main",
        stateDir,
        listen: "127.0.0.1:0",
        intervalMs: 3000,
        webhookSecret: "hook-secret",
        watchDebounceMs: 500,
        log: (l) => logs.push(`${new Date().toISOString()} ${l}`),
        ...options,
      }),
    async status(d) {
      return (await (await fetch(`${d.url}/status`)).json()) as DaemonStatus;
    },
    async servedBy() {
      try {
        const r = await requestFromNpm({ host: API_HOST, path: "/health" });
        return r.body.trim().replace(/^api /, "");
      } catch (err) {
        return `error: ${(err as Error).message.split("\n")[0]}`;
      }
    },
  };
  return h;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
