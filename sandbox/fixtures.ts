import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { ExecaRunner, type Runner } from "../core/runner.js";
import { sandbox } from "./sandbox-env.js";

/** Building blocks for tests on the sandbox host: tiny HTTP services, compose files, probes through NPM. */

const defaultRunner = (): Runner => new ExecaRunner({ defaultTimeoutMs: 60_000 });

export interface BusyboxHttpUnitOptions {
  description: string;
  port: number;
  /** Served directory; holds `health` (see writeHealthDir). */
  dir: string;
  /** Address to bind; all interfaces by default, as a native service reached from NPM's bridge needs. */
  bind?: string;
}

/** A systemd unit for a native HTTP service: busybox httpd in the foreground. */
export function busyboxHttpUnit(o: BusyboxHttpUnitOptions): string {
  const listen = o.bind ? `${o.bind}:${o.port}` : String(o.port);
  return [
    "[Unit]",
    `Description=${o.description}`,
    "",
    "[Service]",
    `ExecStart=/usr/bin/busybox httpd -f -p ${listen} -h ${o.dir}`,
    "Restart=on-failure",
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ].join("\n");
}

export function writeHealthDir(dir: string, body: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "health"), body);
}

export interface ComposeServiceSpec {
  name: string;
  /** Port httpd listens on inside the container. */
  port: number;
  /** "127.0.0.1:HOST:PORT" */
  publish?: string;
  /** Body of /health (default: the service name). */
  body?: string;
}

/** A compose file of busybox httpd services joined to NPM's network as an external one, with healthchecks. */
export function composeFile(o: { services: ComposeServiceSpec[]; network?: string; image?: string }): string {
  const image = o.image ?? process.env.TACK_SANDBOX_BUSYBOX_IMAGE ?? "tack-busybox:sandbox";
  const services: Record<string, unknown> = {};
  for (const s of o.services) {
    const body = (s.body ?? s.name).replace(/'/g, "");
    services[s.name] = {
      image,
      command: ["sh", "-c", `mkdir -p /srv && echo '${body}' > /srv/health && exec httpd -f -p ${s.port} -h /srv`],
      ...(s.publish ? { ports: [s.publish] } : {}),
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${s.port}/health`],
        interval: "1s",
        timeout: "2s",
        retries: 30,
      },
    };
  }
  const doc: Record<string, unknown> = { services }; // no `version:` (obsolete in v2, optional in v1 ≥ 1.27)
  if (o.network) doc.networks = { default: { external: true, name: o.network } };
  return stringify(doc);
}

export interface HttpProbe {
  ok: boolean;
  status?: number;
  body: string;
  error?: string;
}

/**
 * One HTTP GET with busybox wget inside `container`; the status is parsed from its `-S` output. The time
 * limit is busybox `timeout`, not `wget -T`: Debian 12's busybox-static wget segfaults on -T (exit 139).
 */
export async function requestFromContainer(
  container: string,
  url: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
  run: Runner = defaultRunner(),
): Promise<HttpProbe> {
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  const headerArgs = Object.entries(headers).flatMap(([k, v]) => ["--header", `${k}: ${v}`]);
  const argv = ["exec", container, "timeout", "-s", "KILL", String(secs), "wget", "-S", "-q", "-O", "-", ...headerArgs, url];
  const r = await run
    .run("docker", argv, { okExitCodes: [0, 1, 124, 137, 143], timeoutMs: timeoutMs + 10_000 })
    .catch((e: unknown) => ({ exitCode: -1, stdout: "", stderr: e instanceof Error ? e.message : String(e) }));
  const statuses = [...r.stderr.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
  const status = statuses.at(-1);
  const ok = r.exitCode === 0 && status !== undefined && status < 400;
  let error: string | undefined;
  if ([124, 137, 143].includes(r.exitCode)) error = `timed out after ${secs} s`;
  else if (!ok) error = r.stderr.split("\n").filter((l) => /wget:|error/i.test(l)).join("; ") || r.stderr.trim() || `exit ${r.exitCode}`;
  return { ok, status, body: r.stdout, ...(error === undefined ? {} : { error }) };
}

/** A request that NPM routes by its Host header, sent from inside the NPM container to its port 80. */
export async function requestFromNpm(o: { host: string; path?: string; timeoutMs?: number }, run?: Runner): Promise<HttpProbe> {
  const container = sandbox({ parts: ["npm"] }).npmContainer ?? "nginx-proxy-manager";
  return requestFromContainer(container, `http://127.0.0.1:80${o.path ?? "/"}`, o.timeoutMs ?? 5_000, { Host: o.host }, run);
}

export interface BridgeNetwork {
  gateway: string;
  subnet: string;
}

/** NPM's bridge network: its gateway is how NPM reaches native host ports; its subnet is what UFW must allow. */
export async function npmBridge(run: Runner = defaultRunner()): Promise<BridgeNetwork> {
  const network = sandbox({ parts: ["npm"] }).npmNetwork ?? "npm_default";
  const r = await run.run("docker", ["network", "inspect", network, "--format", "{{json .IPAM.Config}}"]);
  const config = JSON.parse(r.stdout) as { Subnet?: string; Gateway?: string }[];
  const v4 = config.find((c) => c.Subnet && !c.Subnet.includes(":"));
  if (!v4?.Subnet || !v4.Gateway) throw new Error(`no IPv4 subnet/gateway on ${network}: ${r.stdout.trim()}`);
  return { gateway: v4.Gateway, subnet: v4.Subnet };
}
