import { readFileSync } from "node:fs";
import { HostError, TackError, TransientError, UserError } from "../../core/errors.js";
import { retryTransient } from "../../core/retry.js";
import type { DesiredDnsRecord, SecretRef } from "../../core/resources.js";
import { listSome } from "../../core/text.js";
import {
  batchOps,
  chunk,
  indexRecords,
  type BatchOp,
  type DnsChange,
  type ObservedDnsRecord,
} from "./record-plan.js";
import type * as SdkModule from "./sdk-client.js";
import type { DnsClient, RecordBatchParams } from "./sdk-client.js";

type Sdk = typeof SdkModule;

/**
 * All I/O of the Cloudflare DNS driver, through the official SDK. Observes a zone with one list request
 * (large per_page), applies every change of a plan in `batch` calls (200 operations each), keeps the
 * token out of every message, and bounds the SDK's 429 retries: a long retry-after fails fast as a
 * TransientError so the reconciler reschedules the DNS layer instead of sleeping inside a cutover.
 * The SDK is imported when the driver first talks to Cloudflare (sdk-client.ts says why).
 */

export interface CloudflareDriverOptions {
  host: string;
  zone: string;
  token: SecretRef;
  /** The token itself when the caller resolved it already (decrypted from an age secret); else read from `token`. */
  tokenValue?: string;
  /** Defaults to env CLOUDFLARE_BASE_URL, then the SDK's own (api.cloudflare.com). */
  baseURL?: string;
  /** Retries of 408/409/5xx, and of 429 whose retry-after is within the cap. */
  maxRetries?: number;
  timeoutMs?: number;
  /** A 429 asking to wait longer than this is not retried (default 10 s). */
  maxRetryAfterMs?: number;
  /** DNS is observed no more often than this unless forced (default 5 minutes). */
  driftIntervalMs?: number;
  /** Operations per batch call (the Free plan allows 200). */
  batchSize?: number;
  /** How long a call keeps retrying transient failures beyond the SDK's own retries (core/retry.ts; default 0). */
  retryBudgetMs?: number;
  /** For tests and embedding: env to read the token from, a clock, and a log sink. */
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  log?: (line: string) => void;
}

const LIST_PER_PAGE = 5000;

export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if ("env" in ref) {
    const v = env[ref.env]?.trim();
    // The host's problem, not the commit's: the agent stalls with this reason instead of condemning the revision.
    if (!v) throw new HostError(`Cloudflare token: environment variable ${ref.env} is not set`);
    return v;
  }
  let v: string;
  try {
    v = readFileSync(ref.file, "utf8").trim();
  } catch (err) {
    throw new HostError(`Cloudflare token: cannot read file ${ref.file} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (!v) throw new HostError(`Cloudflare token: file ${ref.file} is empty`);
  return v;
}

export class CloudflareDriver {
  readonly kind = "cloudflare.record" as const;
  // ES private fields: util.inspect and JSON.stringify of the driver never show the token or the client holding it.
  #client: Promise<DnsClient> | undefined;
  #sdk: Sdk | undefined;
  readonly #token: string;
  private readonly now: () => number;
  private zoneId: string | undefined;
  private cache: { at: number; records: ObservedDnsRecord[] } | undefined;

  constructor(private readonly options: CloudflareDriverOptions) {
    this.#token = options.tokenValue ?? resolveSecret(options.token, options.env);
    this.now = options.now ?? Date.now;
  }

  /** The SDK client, made on first use. */
  private client(): Promise<DnsClient> {
    this.#client ??= import("./sdk-client.js").then((sdk) => {
      this.#sdk = sdk;
      return this.makeClient(sdk);
    });
    return this.#client;
  }

  private makeClient(sdk: Sdk): DnsClient {
    const options = this.options;
    const cap = options.maxRetryAfterMs ?? 10_000;
    const baseFetch = globalThis.fetch;
    // The SDK honours any retry-after with no upper bound (a real 429 says 300 s): tell it not to retry
    // a long one (its `x-should-retry` header), and fail fast below with the wait as retryAfterMs.
    const boundedFetch: typeof fetch = async (input, init) => {
      const res = await baseFetch(input, init);
      if (res.status !== 429 || retryAfterMs(res.headers) <= cap) return res;
      const headers = new Headers(res.headers);
      headers.set("x-should-retry", "false");
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    };
    return sdk.createDnsClient({
      apiToken: this.#token,
      baseURL: options.baseURL ?? options.env?.CLOUDFLARE_BASE_URL ?? process.env.CLOUDFLARE_BASE_URL ?? null,
      maxRetries: options.maxRetries ?? 2,
      timeout: options.timeoutMs ?? 30_000,
      fetch: boundedFetch,
      logLevel: "warn",
      logger: this.redactingLogger(),
    });
  }

  /** Records of the zone, from the cache when younger than the drift interval, unless forced. */
  async observe(desired: DesiredDnsRecord[], opts: { force?: boolean } = {}): Promise<Map<string, ObservedDnsRecord>> {
    const interval = this.options.driftIntervalMs ?? 300_000;
    if (opts.force || !this.cache || this.now() - this.cache.at >= interval) {
      const records = await this.listRecords();
      this.cache = { at: this.now(), records };
    }
    return indexRecords(this.cache.records, desired, this.options.host);
  }

  /** Forget the cached observation (after an apply, or when a webhook says DNS changed). */
  invalidate(): void {
    this.cache = undefined;
  }


  async apply(changes: DnsChange[]): Promise<void> {
    if (changes.length === 0) return;
    const zoneId = await this.resolveZone();
    try {
      for (const ops of chunk(batchOps(changes), this.options.batchSize ?? 200)) await this.sendBatch(zoneId, ops);
    } finally {
      this.invalidate();
    }
  }

  private async sendBatch(zoneId: string, ops: BatchOp[]): Promise<void> {
    const body = { deletes: [] as unknown[], patches: [] as unknown[], posts: [] as unknown[] };
    for (const op of ops) body[op.kind].push(op.body);
    const names = ops.map((o) => o.ref.name);
    await this.call(`apply ${ops.length} change(s) to ${this.options.zone} (${summary(names)})`, () =>
      this.client().then((c) => c.dns.records.batch({ zone_id: zoneId, ...(body as object) } as RecordBatchParams)),
      { changesZone: true },
    );
    this.options.log?.(`cloudflare: applied ${ops.length} change(s) in one batch: ${summary(names)}`);
  }

  private async resolveZone(): Promise<string> {
    if (this.zoneId) return this.zoneId;
    const page = await this.call(`look up zone ${this.options.zone}`, async () => (await this.client()).zones.list({ name: this.options.zone }));
    const zone = page.result.find((z) => z.name === this.options.zone);
    if (!zone) throw new UserError(`Cloudflare zone ${this.options.zone} not found (or the token cannot see it)`);
    this.zoneId = zone.id;
    return zone.id;
  }

  /** One request for a zone of up to 5000 records: the SDK's iterator would add an empty last page. */
  private async listRecords(): Promise<ObservedDnsRecord[]> {
    const zoneId = await this.resolveZone();
    const out: ObservedDnsRecord[] = [];
    for (let page = 1; ; page++) {
      const res = await this.call(`list records of ${this.options.zone}`, () =>
        this.client().then((c) => c.dns.records.list({ zone_id: zoneId, per_page: LIST_PER_PAGE, page })),
      );
      for (const r of res.result)
        out.push({
          id: r.id,
          type: r.type,
          name: r.name,
          content: r.content ?? "",
          ttl: r.ttl,
          proxied: r.proxied ?? false,
          comment: r.comment ?? null,
        });
      const pages = (res.result_info as { total_pages?: number } | undefined)?.total_pages ?? 1;
      if (page >= pages || res.result.length === 0) break;
    }
    return out;
  }

  /**
   * Runs one SDK call and turns its failure into a tack error whose message names what failed and never the token.
   * A transient failure is retried within the retry budget (after the SDK's own two retries); a call that changes
   * the zone only when Cloudflare refused it before acting (429), since a 5xx or a lost connection may have applied it.
   */
  private async call<T>(what: string, fn: () => PromiseLike<T>, opts: { changesZone?: boolean } = {}): Promise<T> {
    const once = async () => {
      try {
        return await fn();
      } catch (err) {
        throw this.translate(what, err);
      }
    };
    return retryTransient(once, {
      budgetMs: this.options.retryBudgetMs ?? 0,
      ...(opts.changesZone ? { retryIf: (e: TransientError) => e instanceof RateLimitError } : {}),
    });
  }

  private translate(what: string, err: unknown): Error {
    const r = (s: string) => this.redact(s);
    if (this.#sdk && err instanceof this.#sdk.APIError) {
      const apiErrors = (err.errors ?? []) as { code?: number; message?: string }[];
      const codes = apiErrors.map((e) => e.code);
      const detail = r(apiErrors.map((e) => `${e.code ?? "?"} ${e.message ?? ""}`.trim()).join("; ") || `HTTP ${err.status ?? "?"}`);
      if (err.status === 429) {
        const wait = err.headers ? retryAfterMs(err.headers) : undefined;
        return new RateLimitError(`Cloudflare rate limit while trying to ${what}: retry after ${Math.round((wait ?? 0) / 1000)} s`, {
          retryAfterMs: wait,
        });
      }
      if (err.status === 401 || err.status === 403 || codes.some((c) => c === 9109 || c === 10000 || c === 9106 || c === 6003))
        return new HostError(`Cloudflare rejected the API token (HTTP ${err.status}: ${detail}) while trying to ${what}`);
      if (codes.includes(81057) || codes.includes(81058))
        return new UserError(`Cloudflare: a record with the same type, name and content already exists (${detail}) while trying to ${what}`);
      if (codes.includes(81053) || codes.includes(81054))
        return new UserError(`Cloudflare: A/AAAA and CNAME records cannot share a name (${detail}) while trying to ${what}`);
      if (err.status !== undefined && err.status >= 500)
        return new TransientError(`Cloudflare server error (HTTP ${err.status}: ${detail}) while trying to ${what}`);
      return new TackError(`Cloudflare API error (HTTP ${err.status ?? "?"}: ${detail}) while trying to ${what}`);
    }
    if (this.#sdk && err instanceof this.#sdk.APIConnectionError)
      return new TransientError(`Cloudflare unreachable while trying to ${what}: ${r(err.message)}`);
    if (err instanceof TackError) return err;
    return new TackError(`Cloudflare: ${what} failed: ${r(err instanceof Error ? err.message : String(err))}`);
  }

  private redact(s: string): string {
    return this.#token ? s.split(this.#token).join("[redacted]") : s;
  }

  private redactingLogger() {
    const sink = this.options.log ?? ((line: string) => process.stderr.write(line + "\n"));
    const out = (level: string) => (msg: string, ...rest: unknown[]) =>
      sink(this.redact(`cloudflare sdk ${level}: ${msg}${rest.length ? " " + safeJson(rest) : ""}`));
    return { error: out("error"), warn: out("warn"), info: out("info"), debug: out("debug") };
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function summary(names: string[]): string {
  return listSome(names, 5);
}

/** retry-after in seconds or as an HTTP date; undefined when absent. */
function retryAfterMs(headers: Headers): number {
  const v = headers.get("retry-after-ms") ?? undefined;
  if (v !== undefined && !Number.isNaN(parseFloat(v))) return parseFloat(v);
  const s = headers.get("retry-after");
  if (!s) return 0;
  const secs = parseFloat(s);
  return Number.isNaN(secs) ? Math.max(0, Date.parse(s) - Date.now()) : secs * 1000;
}

/** A 429: Cloudflare refused the call before acting on it, so even a call that changes the zone may be sent again. */
class RateLimitError extends TransientError {}
