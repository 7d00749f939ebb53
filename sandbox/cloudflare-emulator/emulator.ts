import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { failure, type Json } from "./envelope.js";
import { ApiFailure, newId, RecordStore, type EmulatedRecord, type RecordInput } from "./record-store.js";
import { route, type ZoneDirectory } from "./routes.js";

/**
 * A Cloudflare API v4 emulator on loopback, faithful to what tack uses, so the real `cloudflare` SDK talks
 * to it through `baseURL`: Bearer token check, zones by name, DNS record list (pagination and filters),
 * create, PUT, PATCH, DELETE and the batch endpoint (deletes, patches, puts, posts in that order, one
 * transaction), the v4 envelope, and injectable faults (429 with retry-after, 5xx). Every request is logged
 * so tests can assert how many calls a plan or apply made.
 */

export interface EmulatorOptions {
  token: string;
  zones: { name: string; id?: string }[];
  /** Newer API revisions answer an identical record with 81058 instead of 81057. */
  duplicateCode?: 81057 | 81058;
}

export interface RequestLogEntry {
  method: string;
  /** Path below the API root, e.g. `/zones/<id>/dns_records`. */
  path: string;
  query: Record<string, string>;
  time: number;
  status: number;
}

export interface CloudflareEmulator {
  /** Give this to the SDK as `baseURL`. */
  baseURL: string;
  readonly log: RequestLogEntry[];
  inject429(n: number, retryAfterSeconds: number): void;
  inject5xx(n: number, status?: number): void;
  records(zone: string): EmulatedRecord[];
  seed(zone: string, records: RecordInput[]): EmulatedRecord[];
  zoneId(zone: string): string;
  /** Forget records, log and pending faults. */
  reset(): void;
  close(): Promise<void>;
}

const API_ROOT = "/client/v4";

interface Fault {
  status: number;
  retryAfter?: number;
}

interface Reply {
  status: number;
  body: Json;
  headers?: Record<string, string>;
}

const reply = (status: number, body: Json, headers?: Record<string, string>): Reply => ({ status, body, headers });

/** A pending injected fault answers before anything else is checked, as a real rate limit or outage would. */
function faultReply(fault: Fault): Reply {
  if (fault.status === 429)
    return reply(429, failure([{ code: 971, message: "Please wait and consider throttling your request speed" }]), {
      "retry-after": String(fault.retryAfter ?? 1),
    });
  return reply(fault.status, failure([{ code: 10000 + fault.status, message: "Internal server error" }]));
}

/** The API's answers to a missing, malformed or wrong Bearer token; undefined when the token is right. */
function authReply(auth: string | undefined, token: string): Reply | undefined {
  if (!auth) return reply(401, failure([{ code: 9106, message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers" }]));
  if (!/^Bearer [A-Za-z0-9_-]+$/.test(auth))
    return reply(400, failure([{ code: 6003, message: "Invalid request headers" }, { code: 6111, message: "Invalid format for Authorization header" }]));
  if (auth !== `Bearer ${token}`)
    return reply(403, failure([{ code: 10000, message: "Authentication error" }, { code: 9109, message: "Invalid access token" }]));
  return undefined;
}

/** Parse the body and run the route; API failures become the error envelope, anything else a 500. */
function answer(zones: ZoneDirectory, method: string, path: string, query: URLSearchParams, raw: string): Reply {
  let body: Json = {};
  if (raw) {
    try {
      body = JSON.parse(raw) as Json;
    } catch {
      return reply(400, failure([{ code: 9207, message: "Request body is invalid." }]));
    }
  }
  try {
    return reply(200, route(zones, { method, path, query, body }));
  } catch (err) {
    if (err instanceof ApiFailure) return reply(err.status, failure([{ code: err.code, message: err.message }]));
    return reply(500, failure([{ code: 10500, message: err instanceof Error ? err.message : String(err) }]));
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, r: Reply): void {
  res.writeHead(r.status, { "content-type": "application/json", ...r.headers });
  res.end(JSON.stringify(r.body));
}

interface ServerState {
  options: EmulatorOptions;
  zones: ZoneDirectory;
  log: RequestLogEntry[];
  faults: Fault[];
}

/** One request: logged on arrival (its status filled in when answered), then fault, auth, route. */
async function serve(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const method = (req.method ?? "GET").toUpperCase();
  const path = url.pathname.startsWith(API_ROOT) ? url.pathname.slice(API_ROOT.length) : url.pathname;
  const entry: RequestLogEntry = { method, path, query: Object.fromEntries(url.searchParams), time: Date.now(), status: 0 };
  state.log.push(entry);
  const raw = await readBody(req);
  const fault = state.faults.shift();
  const r =
    (fault && faultReply(fault)) ??
    authReply(req.headers.authorization, state.options.token) ??
    answer(state.zones, method, path, url.searchParams, raw);
  entry.status = r.status;
  send(res, r);
}

function zoneDirectory(options: EmulatorOptions): ZoneDirectory {
  const zones: ZoneDirectory = { byId: new Map(), byName: new Map() };
  for (const z of options.zones) {
    const store = new RecordStore(z.id ?? newId(), z.name.toLowerCase(), options.duplicateCode ?? 81057);
    zones.byId.set(store.zoneId, store);
    zones.byName.set(store.zoneName, store);
  }
  return zones;
}

export async function startCloudflareEmulator(options: EmulatorOptions): Promise<CloudflareEmulator> {
  const state: ServerState = { options, zones: zoneDirectory(options), log: [], faults: [] };
  const server = createServer((req, res) => void serve(state, req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const storeFor = (zone: string) => {
    const s = state.zones.byName.get(zone.toLowerCase());
    if (!s) throw new Error(`emulator has no zone ${zone}`);
    return s;
  };

  return {
    baseURL: `http://127.0.0.1:${port}${API_ROOT}`,
    log: state.log,
    inject429(n, retryAfterSeconds) {
      for (let i = 0; i < n; i++) state.faults.push({ status: 429, retryAfter: retryAfterSeconds });
    },
    inject5xx(n, status = 500) {
      for (let i = 0; i < n; i++) state.faults.push({ status });
    },
    records: (zone) => storeFor(zone).all(),
    seed(zone, records) {
      const s = storeFor(zone);
      return records.map((r) => s.create(r));
    },
    zoneId: (zone) => storeFor(zone).zoneId,
    reset() {
      for (const s of state.zones.byId.values()) s.clear();
      state.log.length = 0;
      state.faults = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
