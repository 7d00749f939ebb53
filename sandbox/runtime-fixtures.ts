import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DesiredComposeService, DesiredSystemdUnit } from "../core/resources.js";
import type { ExecaRunner } from "../core/runner.js";

/**
 * Small fixtures for the runtime drivers' sandbox tests (units, compose, handoff): a busybox HTTP server as
 * a user unit or as a compose service, serving a health file.
 */

export const BUSYBOX = "/bin/busybox";

export function writeHealthDir(dir: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "health"), body);
  return dir;
}

export function busyboxUnit(o: { description: string; port: number; dir: string; extra?: string }): string {
  return [
    "[Unit]",
    `Description=${o.description}`,
    "",
    "[Service]",
    `ExecStart=${BUSYBOX} httpd -f -p 127.0.0.1:${o.port} -h ${o.dir}`,
    ...(o.extra ? [o.extra] : []),
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ].join("\n");
}

export function desiredUnit(name: string, content: string, over: Partial<DesiredSystemdUnit> = {}): DesiredSystemdUnit {
  return {
    kind: "systemd.unit",
    name,
    systemdScope: "user",
    file: { path: `units/${name}`, content },
    present: true,
    enabled: true,
    active: true,
    scope: "api",
    ...over,
  };
}

export interface ComposeServiceSpec {
  name: string;
  /** Port busybox listens on inside the container; published on 127.0.0.1:<publish> when given. */
  port: number;
  publish?: number;
  image?: string;
  restart?: string;
  /** Container environment; values may use compose interpolation (`${VAR:-x}`). */
  environment?: Record<string, string>;
  /** A Docker health check fetching this path from the service itself (busybox wget). */
  healthcheckPath?: string;
  labels?: Record<string, string>;
}

/**
 * Writes `<dir>/docker-compose.yml` and the busybox health dir. No `version:` key by default (obsolete in v2,
 * optional in v1 since 1.27); `version` writes one, to show that a file that still has it works.
 */
export function writeComposeProject(dir: string, services: ComposeServiceSpec[], image: string, opts: { version?: string } = {}): string {
  mkdirSync(dir, { recursive: true });
  const lines = [...(opts.version ? [`version: '${opts.version}'`] : []), "services:"];
  for (const s of services) {
    lines.push(`  ${s.name}:`);
    lines.push(`    image: ${s.image ?? image}`);
    lines.push(`    command: ["/bin/busybox", "httpd", "-f", "-p", "${s.port}", "-h", "/www"]`);
    lines.push(`    restart: ${s.restart ?? "always"}`);
    // busybox httpd as pid 1 ignores SIGTERM: without this every stop waits the default 10 s.
    lines.push("    stop_grace_period: 1s");
    lines.push(`    volumes: ["./www:/www:ro"]`);
    if (s.publish) lines.push(`    ports: ["127.0.0.1:${s.publish}:${s.port}"]`);
    if (s.healthcheckPath) {
      lines.push("    healthcheck:");
      lines.push(`      test: ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${s.port}${s.healthcheckPath}"]`);
      lines.push("      interval: 1s");
      lines.push("      timeout: 1s");
      lines.push("      retries: 2");
    }
    if (s.labels) {
      lines.push("    labels:");
      for (const [k, v] of Object.entries(s.labels)) lines.push(`      ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    }
    if (s.environment) {
      lines.push("    environment:");
      for (const [k, v] of Object.entries(s.environment)) lines.push(`      ${k}: "${v}"`);
    }
  }
  const file = join(dir, "docker-compose.yml");
  writeFileSync(file, lines.join("\n") + "\n");
  writeHealthDir(join(dir, "www"), "docker ok\n");
  return file;
}

export function desiredService(project: string, service: string, file: string, over: Partial<DesiredComposeService> = {}): DesiredComposeService {
  return {
    kind: "compose.service",
    name: `${project}/${service}`,
    project,
    service,
    files: [file],
    workingDir: join(file, ".."),
    env: {},
    state: "running",
    scope: "api",
    ...over,
  };
}

/** Commands that changed the host since `mark` (an index into runner.history). */
export function mutationsSince(runner: ExecaRunner, mark: number): string[] {
  return runner.history.slice(mark).filter((r) => r.mutates).map((r) => [r.file, ...r.args].join(" "));
}

export async function httpOk(url: string, timeoutMs = 300): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => undefined);
    return res.ok;
  } catch {
    return false;
  }
}
