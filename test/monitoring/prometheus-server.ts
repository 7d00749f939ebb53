import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { execa, type ResultPromise } from "execa";

/**
 * A real Prometheus server (Debian's `prometheus` binary) for tests: loopback only, storage in a temp dir,
 * a generated config scraping the given targets as job "tack" every second, optional rule files. Queries go
 * through its HTTP API.
 */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromRule {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  query: string;
  state?: string;
}

export interface PrometheusServer {
  url: string;
  /** Instant query; throws with Prometheus's error text when the query is refused. */
  query(expr: string): Promise<PromSample[]>;
  /** Number of the first sample of an instant query (undefined when the result is empty). */
  value(expr: string): Promise<number | undefined>;
  rules(): Promise<{ name: string; rules: PromRule[] }[]>;
  /** Metric metadata (HELP, TYPE) Prometheus read from its targets, by metric name. */
  metadata(): Promise<Record<string, { type: string; help: string }[]>>;
  log(): Promise<string>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface ApiEnvelope<T> {
  status: "success" | "error";
  data: T;
  errorType?: string;
  error?: string;
}

async function api<T>(base: string, pathAndQuery: string): Promise<T> {
  const res = await fetch(`${base}${pathAndQuery}`);
  const body = (await res.json()) as ApiEnvelope<T>;
  if (body.status !== "success") throw new Error(`Prometheus ${pathAndQuery}: ${body.errorType}: ${body.error}`);
  return body.data;
}

export async function startPrometheus(options: { dir: string; targets: string[]; ruleFiles?: string[]; intervalSeconds?: number }): Promise<PrometheusServer> {
  await mkdir(path.join(options.dir, "data"), { recursive: true });
  const every = `${options.intervalSeconds ?? 1}s`;
  const config = {
    global: { scrape_interval: every, scrape_timeout: every, evaluation_interval: every },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: [{ job_name: "tack", static_configs: [{ targets: options.targets }] }],
  };
  const configFile = path.join(options.dir, "prometheus.yml");
  const logFile = path.join(options.dir, "prometheus.log");
  // JSON is valid YAML.
  await writeFile(configFile, JSON.stringify(config, null, 1));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ResultPromise = execa(
    "prometheus",
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(options.dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ],
    { reject: false, stdin: "ignore", stdout: { file: logFile }, stderr: { file: logFile } },
  );
  const log = () => readFile(logFile, "utf8").catch(() => "");
  const close = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child;
      clearTimeout(killer);
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${await log()}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`prometheus not ready after 30 s:\n${await log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const query = async (expr: string) => {
    const data = await api<{ resultType: string; result: PromSample[] | [number, string] }>(url, `/api/v1/query?query=${encodeURIComponent(expr)}`);
    // A scalar result (e.g. time()) comes as one [t, v] pair.
    return data.resultType === "scalar" ? [{ metric: {}, value: data.result as [number, string] }] : (data.result as PromSample[]);
  };
  return {
    url,
    query,
    value: async (expr) => {
      const r = await query(expr);
      return r[0] ? Number(r[0].value[1]) : undefined;
    },
    rules: async () => (await api<{ groups: { name: string; rules: PromRule[] }[] }>(url, "/api/v1/rules")).groups,
    metadata: () => api(url, "/api/v1/metadata"),
    log,
    close,
  };
}
