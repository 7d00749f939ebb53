/**
 * The post-reload probe: a request through NPM's nginx with each host's Host header must reach that host's new
 * upstream (its probe path, answered by the upstream named in NPM's `Sent-to` log field). The requests go from
 * the host through NPM's published HTTP port, or its HTTPS port for a host that forces SSL with a certificate
 * (over HTTP it would only get NPM's redirect) or when 443 alone is published; only when NPM publishes neither
 * do they run inside its container (probe-exec.ts). When neither way exists the edge is reported unverified, never failed: the
 * lack of a tool says nothing about the hosts.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage, TackError } from "../../core/errors.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import { readIfExists } from "./conf-files.js";
import type { HostPort, NpmContainer, PublishedPorts } from "./nginx-env.js";
import { ContainerRequester, NoProbeToolError, type ProbeRequest } from "./probe-exec.js";
import { requestThroughPort } from "./probe-http.js";
import { sortDomains } from "./row.js";

const PROBE_AGENT = "tack-probe";
/** Requests in flight at once through a published port (800 hosts must not open 800 sockets at once). */
const PORT_CONCURRENCY = 16;

/** A host to probe: its row id (whose access log names the upstream) and what it should now reach. */
export interface ProbeTarget {
  id: number;
  desired: DesiredProxyHost;
}

export interface ProbeOutcome<T> {
  /** Hosts that never answered from their new upstream before the deadline. */
  failed: { target: T; error: unknown }[];
  /** Set when no probe was possible at all: why. The hosts are then neither passed nor failed. */
  unverified?: string;
}

/** How this probe pass reaches NPM's nginx: its published ports (at least one), or inside its container. */
type Route = { via: "port"; ports: PublishedPorts } | { via: "container" };

/** A request and how it goes: over TLS to a host that forces SSL and has a certificate, when 443 is published. */
type TargetRequest = ProbeRequest & { tls: boolean };

export class NpmProbe {
  private readonly inContainer: ContainerRequester;

  /**
   * @param logDir NPM's `<dataDir>/logs`, where `proxy-host-<id>_access.log` names the upstream of each request.
   * @param timeoutMs how long the probe keeps trying before a host fails (the budget grows with the batch).
   */
  constructor(
    private readonly container: NpmContainer,
    private readonly logDir: string,
    private readonly timeoutMs: number,
  ) {
    this.inContainer = new ContainerRequester(container);
  }

  /** Probes every target until it answers from its new upstream or the deadline passes. */
  async probeAll<T extends ProbeTarget>(targets: T[]): Promise<ProbeOutcome<T>> {
    // The budget grows with the batch: one pass through 800 hosts takes seconds before any retry.
    const deadline = Date.now() + this.timeoutMs + 50 * targets.length;
    const route = await this.route();
    const tlsWanted = (d: DesiredProxyHost) => (d.sslForced ?? false) && (d.certificateId ?? 0) > 0;
    const requests = new Map(
      targets.map((t) => [
        t,
        {
          domain: sortDomains(t.desired.domains)[0]!,
          path: t.desired.probePath.startsWith("/") ? t.desired.probePath : `/${t.desired.probePath}`,
          agent: `${PROBE_AGENT}/${randomBytes(6).toString("hex")}`,
          tls: route.via === "port" && (!route.ports.http || (tlsWanted(t.desired) && route.ports.https !== undefined)),
        },
      ]),
    );
    const last = new Map<T, unknown>();
    let pending = targets;
    // nginx -s reload only signals the master: retry until the new workers answer, or the deadline.
    while (pending.length > 0 && Date.now() < deadline) {
      let statuses: (number | Error)[];
      try {
        statuses = await this.requestMany(route, pending.map((t) => requests.get(t)!), Math.max(2000, deadline - Date.now()));
      } catch (err) {
        if (err instanceof NoProbeToolError) return { failed: [], unverified: `${this.container.name} publishes no HTTP or HTTPS port, and ${err.message}` };
        throw err;
      }
      const next: T[] = [];
      const answered: T[] = [];
      for (const [i, t] of pending.entries()) {
        const status = statuses[i]!;
        // 3xx is an answer too (not followed): NPM's "force SSL" redirects http to https before any upstream.
        if (status instanceof Error) last.set(t, status);
        else if (status < 200 || status >= 400) last.set(t, new TackError(`HTTP ${status}`));
        else {
          answered.push(t);
          continue;
        }
        next.push(t);
      }
      const sentTo = await this.sentToAll(answered.map((t) => ({ id: t.id, agent: requests.get(t)!.agent })));
      for (const [i, t] of answered.entries()) {
        const to = sentTo[i];
        if (to === undefined || to === t.desired.forwardHost) continue;
        last.set(t, new TackError(`request for ${requests.get(t)!.domain} was proxied to ${to}, not ${t.desired.forwardHost}`));
        next.push(t);
      }
      pending = next;
      if (pending.length > 0) await sleep(300);
    }
    const failed = pending.map((t) => {
      const { domain, path, tls } = requests.get(t)!;
      const port = route.via === "port" ? (tls ? route.ports.https : route.ports.http) : undefined;
      const through = port ? `${tls ? "https" : "http"}://${hostPort(port)} (published by ${this.container.name})` : `${this.container.name} (no published port)`;
      const cause = last.get(t) ?? new TackError("no attempt before the deadline");
      return { target: t, error: new TackError(`GET ${path} with Host ${domain} through ${through}: ${errorMessage(cause)}`, { cause }) };
    });
    return { failed };
  }

  /** NPM's published ports if it has any, else inside the container. */
  private async route(): Promise<Route> {
    const ports = await this.container.publishedPorts();
    return ports.http || ports.https ? { via: "port", ports } : { via: "container" };
  }

  private async requestMany(route: Route, requests: TargetRequest[], timeoutMs: number): Promise<(number | Error)[]> {
    if (route.via === "container") return this.inContainer.requestMany(requests, timeoutMs);
    const out: (number | Error)[] = [];
    for (let i = 0; i < requests.length; i += PORT_CONCURRENCY) {
      const chunk = requests.slice(i, i + PORT_CONCURRENCY);
      out.push(
        ...(await Promise.all(
          chunk.map((r) =>
            requestThroughPort({ ...r, to: (r.tls ? route.ports.https : route.ports.http)!, timeoutMs: Math.min(timeoutMs, 5000) }).catch((e: unknown) =>
              e instanceof Error ? e : new Error(String(e)),
            ),
          ),
        )),
      );
    }
    return out;
  }

  /**
   * NPM's `proxy` log format ends with `[Sent-to $server]`: it names the upstream that answered each probe.
   * nginx writes the line after the response is sent, so a fast client can look before it is there: missing
   * lines are read again for up to a second. A line still missing then (logs elsewhere) is not held against
   * the host: undefined.
   */
  private async sentToAll(probes: { id: number; agent: string }[]): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = [];
    const missing = new Set(probes.keys());
    for (let attempt = 0; missing.size > 0 && attempt < 10; attempt++) {
      if (attempt > 0) await sleep(100);
      for (const i of [...missing]) {
        const { id, agent } = probes[i]!;
        const log = await readIfExists(join(this.logDir, `proxy-host-${id}_access.log`));
        const line = log?.split("\n").reverse().find((l) => l.includes(agent));
        if (line === undefined) continue;
        out[i] = /\[Sent-to ([^\]]+)\]/.exec(line)?.[1];
        missing.delete(i);
      }
    }
    return probes.map((_, i) => out[i]);
  }
}

function hostPort(p: HostPort): string {
  return p.address.includes(":") ? `[${p.address}]:${p.port}` : `${p.address}:${p.port}`;
}
