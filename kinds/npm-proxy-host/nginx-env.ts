/**
 * NPM's container as the driver sees it: `docker exec` into it through the Runner, `nginx <args>` there, and
 * the two facts the conf renderer needs from it (nginx version, IPv6), read once per driver.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { dockerFailure } from "../../core/docker-errors.js";
import { TackError } from "../../core/errors.js";
import type { Runner, RunOptions, RunResult } from "../../core/runner.js";
import { stateCache } from "../../core/state-cache.js";
import { parseNginxVersion } from "./render-conf.js";

export interface NginxEnv {
  nginxVersion: string;
  ipv6: boolean;
}

/** Where NPM's nginx is reachable from the host: its published HTTP (80) and HTTPS (443) ports, if any. */
export interface PublishedPorts {
  http?: HostPort;
  https?: HostPort;
}

export interface HostPort {
  address: string;
  port: number;
}

/**
 * nginx's version per container image ID: an image never changes, a recreated or upgraded container has a new
 * one. Kept in the process, and in `<state-dir>/cache/nginx-version.json` when the driver has a state dir, so a
 * fresh `tack plan` runs no `docker exec nginx -v` either.
 */
const nginxVersionByImage = new Map<string, string>();

export class NpmContainer {
  private env: Promise<NginxEnv> | undefined;

  /** `given` facts are used as they are; the missing ones are detected on first use. */
  constructor(
    private readonly runner: Runner,
    readonly name: string,
    private readonly given: { nginxVersion?: string | undefined; ipv6?: boolean | undefined; stateDir?: string | undefined } = {},
  ) {}

  /** `docker exec <container> <command...>`. */
  exec(command: string[], options?: RunOptions): Promise<RunResult> {
    return this.runner.run("docker", ["exec", this.name, ...command], options);
  }

  /** `nginx <args>` in NPM's container; a reload is the one that changes what serves. */
  nginx(...args: string[]): Promise<RunResult> {
    return this.exec(["nginx", ...args], { mutates: args.includes("reload") });
  }

  /**
   * The nginx version and IPv6 setting of the NPM container, read once per driver: one `docker inspect` (image
   * and env); `nginx -v` runs in the container only for an image not seen before (in this process or, with a
   * state dir, an earlier one).
   * NPM renders IPv6 listens unless DISABLE_IPV6 is set in its container.
   */
  nginxEnv(): Promise<NginxEnv> {
    this.env ??= this.detect();
    return this.env;
  }

  /**
   * `nginx -s reload`, then up to `settleMs` until the workers that ran before it are gone. The reload returns
   * once the master is signalled; the old workers keep serving for a moment (a request on one still goes to
   * the old upstream), so an edge step that ends before they do lets the next step (retiring the old owner)
   * break those requests. `docker top` lists the workers without anything inside NPM. Best effort: no wait
   * when `docker top` fails, none past the bound for a worker held by a long-lived connection (a websocket).
   */
  async reload(settleMs: number): Promise<void> {
    const before = await this.workerPids();
    await this.nginx("-s", "reload");
    const until = Date.now() + settleMs;
    while (before.size > 0 && Date.now() < until) {
      const now = await this.workerPids();
      if (![...before].some((pid) => now.has(pid))) return;
      await sleep(100);
    }
  }

  /** PIDs of nginx workers in the container, from `docker top` (the host's ps); empty when that fails. */
  private async workerPids(): Promise<Set<string>> {
    const top = await this.runner.run("docker", ["top", this.name, "-o", "pid,args"], { okExitCodes: [0, 1] }).catch(() => undefined);
    if (!top || top.exitCode !== 0) return new Set();
    const pids = top.stdout.split("\n").filter((l) => l.includes("nginx: worker process")).map((l) => l.trim().split(/\s+/)[0]!);
    return new Set(pids);
  }

  /**
   * NPM's published ports, read with `docker inspect` at each call: a recreated container may publish others.
   * A binding on all addresses (0.0.0.0, ::, or none given) is reached on loopback.
   */
  async publishedPorts(): Promise<PublishedPorts> {
    const r = await this.runner.run("docker", ["inspect", this.name, "--format", "{{json .NetworkSettings.Ports}}"]).catch((err: unknown) => {
      throw dockerFailure(err, `NPM's container ${this.name} (edge.npm.container)`);
    });
    return parsePublishedPorts(r.stdout);
  }

  private async detect(): Promise<NginxEnv> {
    let { nginxVersion, ipv6 } = this.given;
    let image: string | undefined;
    if (ipv6 === undefined || nginxVersion === undefined) {
      const r = await this.runner.run("docker", ["inspect", this.name, "--format", "{{json .Image}} {{json .Config.Env}}"]).catch((err: unknown) => {
        throw dockerFailure(err, `NPM's container ${this.name} (edge.npm.container)`);
      });
      const [imageJson, ...envJson] = r.stdout.trim().split(" ");
      image = JSON.parse(imageJson ?? "null") as string | undefined;
      const vars = (JSON.parse(envJson.join(" ") || "null") as string[] | null) ?? [];
      const v = vars.find((e) => e.startsWith("DISABLE_IPV6="))?.slice("DISABLE_IPV6=".length).toLowerCase();
      ipv6 ??= !(v === "on" || v === "true" || v === "1" || v === "yes");
    }
    if (!nginxVersion) {
      const known = this.given.stateDir ? stateCache(this.given.stateDir, "nginx-version", 16) : undefined;
      nginxVersion = image ? (nginxVersionByImage.get(image) ?? known?.get(image)) : undefined;
      if (!nginxVersion) {
        const r = await this.nginx("-v");
        nginxVersion = parseNginxVersion(r.stderr + r.stdout);
        if (!nginxVersion) throw new TackError(`cannot read the nginx version of ${this.name}: ${r.stderr.trim()}`);
        if (image) known?.set(image, nginxVersion);
      }
      if (image) nginxVersionByImage.set(image, nginxVersion);
    }
    return { nginxVersion, ipv6 };
  }
}

type PortBindings = Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;

/** `.NetworkSettings.Ports` of `docker inspect`: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}`. */
export function parsePublishedPorts(json: string): PublishedPorts {
  let ports: PortBindings;
  try {
    ports = JSON.parse(json.trim() || "null") as PortBindings;
  } catch (err) {
    throw new TackError(`cannot read the published ports of NPM's container: ${json.trim().slice(0, 200)}`, { cause: err });
  }
  const pick = (containerPort: string): HostPort | undefined => {
    const bindings = (ports?.[containerPort] ?? []).filter((b) => Number(b.HostPort) > 0);
    // IPv4 first: Docker lists 0.0.0.0 and :: for one port, and the IPv6 proxy may be off.
    const b = bindings.find((x) => !(x.HostIp ?? "").includes(":")) ?? bindings[0];
    if (!b) return undefined;
    const ip = b.HostIp ?? "";
    const address = ip === "" || ip === "0.0.0.0" ? "127.0.0.1" : ip === "::" ? "::1" : ip;
    return { address, port: Number(b.HostPort) };
  };
  const http = pick("80/tcp");
  const https = pick("443/tcp");
  return { ...(http ? { http } : {}), ...(https ? { https } : {}) };
}
