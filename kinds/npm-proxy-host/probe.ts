/**
 * The post-reload probe: a request through NPM's nginx with each host's Host header must reach that host's new
 * upstream (its probe path, answered by the upstream named in NPM's `Sent-to` log field). The requests run
 * inside NPM's container with whatever HTTP tool it has, many per `docker exec`.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CommandError, errorMessage, TackError } from "../../core/errors.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import { readIfExists } from "./conf-files.js";
import type { NpmContainer } from "./nginx-env.js";
import { sortDomains } from "./row.js";

const PROBE_AGENT = "tack-probe";

type ProbeTool = "curl" | "wget" | "nc";

interface ProbeRequest {
  domain: string;
  path: string;
  agent: string;
}

/** A host to probe: its row id (whose access log names the upstream) and what it should now reach. */
export interface ProbeTarget {
  id: number;
  desired: DesiredProxyHost;
}

/**
 * The batch probe's shell loop: positional args come in threes (domain, path, agent) and are only ever used
 * quoted; each request prints `tack-probe-status <index> <HTTP status or nothing>`.
 * No `-T` for wget: Debian 12's static busybox wget segfaults on it; the runner's timeout bounds the exec.
 */
const BATCH_PROBE_SCRIPT: Record<"curl" | "wget", string> = {
  curl:
    'i=0; while [ "$#" -ge 3 ]; do ' +
    'code=$(curl -sS -o /dev/null -m 5 -A "$3" -H "Host: $1" -w "%{http_code}" "http://127.0.0.1:80$2" 2>/dev/null); ' +
    'echo "tack-probe-status $i $code"; i=$((i+1)); shift 3; done',
  wget:
    'i=0; while [ "$#" -ge 3 ]; do ' +
    'code=$(wget -S -q -O /dev/null -U "$3" --header "Host: $1" "http://127.0.0.1:80$2" 2>&1 | sed -n "s/.*HTTP\\/1\\.[01] \\([0-9][0-9][0-9]\\).*/\\1/p" | head -n 1); ' +
    'echo "tack-probe-status $i $code"; i=$((i+1)); shift 3; done',
};

export class NpmProbe {
  /** The first tool that gave an HTTP answer in this container, remembered for the driver's lifetime. */
  private tool: ProbeTool | undefined;

  /**
   * @param logDir NPM's `<dataDir>/logs`, where `proxy-host-<id>_access.log` names the upstream of each request.
   * @param timeoutMs how long the probe keeps trying before a host fails (the budget grows with the batch).
   */
  constructor(
    private readonly container: NpmContainer,
    private readonly logDir: string,
    private readonly timeoutMs: number,
  ) {}

  /** Probes every target until it answers from its new upstream or the deadline passes; returns those that never did. */
  async probeAll<T extends ProbeTarget>(targets: T[]): Promise<{ target: T; error: unknown }[]> {
    // The budget grows with the batch: one pass through 800 hosts takes seconds before any retry.
    const deadline = Date.now() + this.timeoutMs + 50 * targets.length;
    const requests = new Map(
      targets.map((t) => [
        t,
        {
          domain: sortDomains(t.desired.domains)[0]!,
          path: t.desired.probePath.startsWith("/") ? t.desired.probePath : `/${t.desired.probePath}`,
          agent: `${PROBE_AGENT}/${randomBytes(6).toString("hex")}`,
        },
      ]),
    );
    const last = new Map<T, unknown>();
    let pending = targets;
    // nginx -s reload only signals the master: retry until the new workers answer, or the deadline.
    while (pending.length > 0 && Date.now() < deadline) {
      const statuses = await this.requestMany(pending.map((t) => requests.get(t)!), Math.max(2000, deadline - Date.now()));
      const next: T[] = [];
      for (const [i, t] of pending.entries()) {
        const status = statuses[i]!;
        const req = requests.get(t)!;
        if (status instanceof Error) last.set(t, status);
        else if (status < 200 || status >= 400) last.set(t, new TackError(`HTTP ${status}`));
        else {
          const sentTo = await this.sentTo(t.id, req.agent);
          if (sentTo === undefined || sentTo === t.desired.forwardHost) continue;
          last.set(t, new TackError(`request for ${req.domain} was proxied to ${sentTo}, not ${t.desired.forwardHost}`));
        }
        next.push(t);
      }
      pending = next;
      if (pending.length > 0) await sleep(300);
    }
    return pending.map((t) => {
      const { domain, path } = requests.get(t)!;
      const cause = last.get(t) ?? new TackError("no attempt before the deadline");
      return { target: t, error: new TackError(`GET ${path} with Host ${domain} through ${this.container.name}: ${errorMessage(cause)}`, { cause }) };
    });
  }

  /**
   * Many GETs through NPM in ONE `docker exec` (a shell loop over curl or wget), not one exec per host. The tool
   * is found with a single request first; nc, which needs a script per request, and a lone request go one exec each.
   */
  private async requestMany(requests: ProbeRequest[], timeoutMs: number): Promise<(number | Error)[]> {
    const one = (r: ProbeRequest) => this.requestOne(r, timeoutMs).catch((e: unknown) => toError(e));
    const out: (number | Error)[] = [];
    if (!this.tool) out.push(await one(requests[0]!)); // finds the tool
    const rest = requests.slice(out.length);
    const tool = this.tool;
    if ((tool !== "curl" && tool !== "wget") || rest.length <= 1) {
      for (const r of rest) out.push(await one(r));
      return out;
    }
    const command = ["sh", "-c", BATCH_PROBE_SCRIPT[tool], "tack-probe", ...rest.flatMap((r) => [r.domain, r.path, r.agent])];
    let stdout: string;
    let failure: Error | undefined;
    try {
      ({ stdout } = await this.container.exec(command, { timeoutMs: Math.max(timeoutMs, 10_000) }));
    } catch (err) {
      failure = toError(err);
      stdout = err instanceof CommandError ? err.stdout : "";
    }
    const byIndex = new Map<number, number>();
    for (const m of stdout.matchAll(/^tack-probe-status (\d+) (\d*)$/gm)) byIndex.set(Number(m[1]), Number(m[2] || 0));
    for (const [i] of rest.entries()) {
      const status = byIndex.get(i);
      if (status === undefined) out.push(failure ?? new TackError(`${tool}: no answer in the batch`));
      else if (status === 0) out.push(new TackError(`${tool}: no HTTP response`));
      else out.push(status);
    }
    return out;
  }

  /**
   * One GET to 127.0.0.1:80 inside the NPM container; returns the HTTP status. NPM's image has curl; other
   * images may only have wget or a busybox nc, so the first tool that gives an HTTP answer is remembered.
   */
  private async requestOne({ domain, path, agent }: ProbeRequest, timeoutMs: number): Promise<number> {
    const url = `http://127.0.0.1:80${path}`;
    const commands: Record<ProbeTool, string[]> = {
      curl: ["curl", "-sS", "-o", "/dev/null", "-m", "5", "-A", agent, "-H", `Host: ${domain}`, "-w", "%{http_code}", url],
      // No `-T`: Debian 12's static busybox wget segfaults on it; the runner's timeout bounds the call instead.
      wget: ["wget", "-S", "-q", "-O", "/dev/null", "-U", agent, "--header", `Host: ${domain}`, url],
      // busybox nc closes on stdin EOF before the answer comes back: with -e the script owns the socket.
      nc: ["nc", "-w", "5", "127.0.0.1", "80", "-e", "sh", "-c", 'printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: %s\\r\\n\\r\\n" "$1" "$2" "$3"; cat >&2', "probe", path, domain, agent],
    };
    const order: ProbeTool[] = this.tool ? [this.tool] : ["curl", "wget", "nc"];
    let lastErr: unknown;
    for (const tool of order) {
      let r;
      try {
        r = await this.container.exec(commands[tool], { timeoutMs: Math.min(timeoutMs, 10_000), okExitCodes: [0, 1, 8, 22] });
      } catch (err) {
        lastErr = err;
        continue; // 126/127: no such tool; 139: it crashed
      }
      const text = tool === "curl" ? r.stdout : r.stderr.split("\n").find((l) => l.startsWith("HTTP/")) ?? r.stderr;
      const status = tool === "curl" ? Number(text.trim()) : Number(/HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? NaN);
      if (!Number.isFinite(status) || status === 0) {
        lastErr = new TackError(`${tool}: no HTTP response: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
        if (this.tool) throw lastErr;
        continue;
      }
      this.tool = tool;
      return status;
    }
    throw lastErr instanceof Error ? lastErr : new TackError(`no probe tool works in ${this.container.name}`);
  }

  /** NPM's `proxy` log format ends with `[Sent-to $server]`: it names the upstream that answered our probe. */
  private async sentTo(id: number, agent: string): Promise<string | undefined> {
    const log = await readIfExists(join(this.logDir, `proxy-host-${id}_access.log`));
    const line = log?.split("\n").reverse().find((l) => l.includes(agent));
    return line ? /\[Sent-to ([^\]]+)\]/.exec(line)?.[1] : undefined;
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
