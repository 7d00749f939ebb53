/**
 * The fallback probe, for an NPM container that publishes no port: GETs to 127.0.0.1:80 inside the container
 * with whatever HTTP tool it has (curl, wget or a busybox nc), many per `docker exec`. An image with none of
 * them, or a host where `docker exec` is refused, gives NoProbeToolError: the probe is impossible, which is not
 * the host failing.
 */
import { CommandError, TackError } from "../../core/errors.js";
import type { NpmContainer } from "./nginx-env.js";

type ProbeTool = "curl" | "wget" | "nc";

export interface ProbeRequest {
  domain: string;
  path: string;
  agent: string;
}

/** No HTTP client in NPM's container, or `docker exec` refused: nothing can be probed this way. */
export class NoProbeToolError extends TackError {}

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

/**
 * A tool the container does not have, or an exec the host refuses: docker exits 126/127 ("executable file not
 * found in $PATH"), busybox nc cannot run `sh`, an authorization plugin denies the exec. A tool that ran and got
 * no answer (curl exit 7: connection refused) is NOT this: it is nginx failing, and must fail the probe.
 */
function isMissingTool(err: unknown): boolean {
  if (!(err instanceof CommandError)) return false;
  if (err.exitCode === 126 || err.exitCode === 127) return true;
  return /executable file not found|no such file or directory|can't execute|authorization denied|exec.*not allowed/i.test(err.stderr);
}

export class ContainerRequester {
  /** The first tool that gave an HTTP answer in this container, remembered for the driver's lifetime. */
  private tool: ProbeTool | undefined;

  constructor(private readonly container: NpmContainer) {}

  /**
   * Many GETs through NPM in ONE `docker exec` (a shell loop over curl or wget), not one exec per host. The tool
   * is found with a single request first; nc, which needs a script per request, and a lone request go one exec each.
   * Throws NoProbeToolError when the container has no tool at all.
   */
  async requestMany(requests: ProbeRequest[], timeoutMs: number): Promise<(number | Error)[]> {
    const one = (r: ProbeRequest) =>
      this.requestOne(r, timeoutMs).catch((e: unknown) => {
        if (e instanceof NoProbeToolError) throw e;
        return toError(e);
      });
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
    let missing = 0;
    for (const tool of order) {
      let r;
      try {
        r = await this.container.exec(commands[tool], { timeoutMs: Math.min(timeoutMs, 10_000), okExitCodes: [0, 1, 8, 22] });
      } catch (err) {
        lastErr = err;
        if (isMissingTool(err)) missing++;
        continue; // 126/127: no such tool; 139: it crashed
      }
      const text = tool === "curl" ? r.stdout : r.stderr.split("\n").find((l) => l.startsWith("HTTP/")) ?? r.stderr;
      const status = tool === "curl" ? Number(text.trim()) : Number(/HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? NaN);
      if (!Number.isFinite(status) || status === 0) {
        const said = (r.stderr || r.stdout).trim();
        if (/can't execute/i.test(said)) missing++; // busybox nc without sh: exit 1 and this line
        lastErr = new TackError(`${tool}: no HTTP response: ${said.slice(0, 300)}`);
        if (this.tool) throw lastErr;
        continue;
      }
      this.tool = tool;
      return status;
    }
    if (!this.tool && missing === order.length) {
      throw new NoProbeToolError(`no HTTP client can run in ${this.container.name} (tried curl, wget, nc): ${firstLine(lastErr)}`, { cause: lastErr });
    }
    throw lastErr instanceof Error ? lastErr : new TackError(`no probe tool works in ${this.container.name}`);
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof CommandError ? err.stderr.trim() || err.message : err instanceof Error ? err.message : String(err);
  return text.split("\n")[0]!.slice(0, 200);
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
