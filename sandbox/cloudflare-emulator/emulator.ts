import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { recordFilter } from "./record-filters.js";
import { ApiFailure, newId, RecordStore, type EmulatedRecord, type RecordInput } from "./record-store.js";

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
const MAX_PER_PAGE = 5000;

interface Fault {
  status: number;
  retryAfter?: number;
}

type Json = Record<string, unknown>;

function envelope(result: unknown, extra: Json = {}): Json {
  return { success: true, errors: [], messages: [], result, ...extra };
}

function failure(errors: { code: number; message: string }[]): Json {
  return { success: false, errors, messages: [], result: null };
}

export async function startCloudflareEmulator(options: EmulatorOptions): Promise<CloudflareEmulator> {
  const stores = new Map<string, RecordStore>(); // by zone id
  const byName = new Map<string, RecordStore>();
  for (const z of options.zones) {
    const store = new RecordStore(z.id ?? newId(), z.name.toLowerCase(), options.duplicateCode ?? 81057);
    stores.set(store.zoneId, store);
    byName.set(store.zoneName, store);
  }
  const log: RequestLogEntry[] = [];
  let faults: Fault[] = [];

  const zoneJson = (s: RecordStore) => ({
    id: s.zoneId,
    name: s.zoneName,
    status: "active",
    paused: false,
    type: "full",
    name_servers: ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
  });

  function paginate<T>(items: T[], q: URLSearchParams): Json {
    const page = Math.max(1, Number(q.get("page") ?? 1) || 1);
    const perPage = Number(q.get("per_page") ?? 100) || 100;
    if (perPage < 5 || perPage > MAX_PER_PAGE)
      throw new ApiFailure(400, 1004, `per_page must be between 5 and ${MAX_PER_PAGE}`);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return envelope(slice, {
      result_info: {
        page,
        per_page: perPage,
        count: slice.length,
        total_count: items.length,
        total_pages: Math.ceil(items.length / perPage),
      },
    });
  }

  function zoneById(id: string, path: string): RecordStore {
    const s = stores.get(id);
    if (!s) throw new ApiFailure(400, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
    return s;
  }

  function batch(store: RecordStore, body: Json): Json {
    const list = (k: string) => {
      const v = body[k];
      if (v === undefined) return [];
      if (!Array.isArray(v)) throw new ApiFailure(400, 9207, `${k} must be an array`);
      return v as RecordInput[];
    };
    const snap = store.snapshot();
    try {
      // Applied in this order, as one transaction: any failure leaves the zone as it was.
      const deletes = list("deletes").map((d) => store.delete(String(d.id)));
      const patches = list("patches").map((p) => store.write(String(p.id), p, "patch"));
      const puts = list("puts").map((p) => store.write(String(p.id), p, "put"));
      const posts = list("posts").map((p) => store.create({ ...p, id: undefined }));
      return envelope({ deletes, patches, puts, posts });
    } catch (err) {
      store.restore(snap);
      throw err;
    }
  }

  function route(method: string, path: string, q: URLSearchParams, body: Json): [number, Json] {
    const parts = path.split("/").filter(Boolean);
    if (parts[0] !== "zones") throw new ApiFailure(400, 7000, `No route for that URI`);
    if (parts.length === 1 && method === "GET") {
      const name = q.get("name");
      const zones = [...stores.values()].filter((s) => name === null || s.zoneName === name.toLowerCase());
      return [200, paginate(zones.map(zoneJson), q)];
    }
    const store = zoneById(parts[1] ?? "", path);
    if (parts.length === 2 && method === "GET") return [200, envelope(zoneJson(store))];
    if (parts[2] !== "dns_records") throw new ApiFailure(400, 7000, `No route for that URI`);
    if (parts.length === 3) {
      if (method === "GET") {
        const keep = recordFilter(q, store.zoneName);
        const rows = store
          .all()
          .filter(keep)
          .sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
        return [200, paginate(rows, q)];
      }
      if (method === "POST") return [200, envelope(store.create({ ...(body as RecordInput), id: undefined }))];
    }
    if (parts.length === 4 && parts[3] === "batch" && method === "POST") return [200, batch(store, body)];
    if (parts.length === 4) {
      const id = parts[3]!;
      if (method === "GET") return [200, envelope(store.get(id))];
      if (method === "PUT") return [200, envelope(store.write(id, body as RecordInput, "put"))];
      if (method === "PATCH") return [200, envelope(store.write(id, body as RecordInput, "patch"))];
      if (method === "DELETE") return [200, envelope({ id: store.delete(id).id })];
    }
    throw new ApiFailure(405, 10405, `Method ${method} not allowed`);
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  function send(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const method = (req.method ?? "GET").toUpperCase();
      const path = url.pathname.startsWith(API_ROOT) ? url.pathname.slice(API_ROOT.length) : url.pathname;
      const entry: RequestLogEntry = {
        method,
        path,
        query: Object.fromEntries(url.searchParams),
        time: Date.now(),
        status: 0,
      };
      log.push(entry);
      const reply = (status: number, body: Json, headers?: Record<string, string>) => {
        entry.status = status;
        send(res, status, body, headers);
      };
      const raw = await readBody(req);
      const fault = faults.shift();
      if (fault?.status === 429)
        return reply(429, failure([{ code: 971, message: "Please wait and consider throttling your request speed" }]), {
          "retry-after": String(fault.retryAfter ?? 1),
        });
      if (fault) return reply(fault.status, failure([{ code: 10000 + fault.status, message: "Internal server error" }]));
      const auth = req.headers.authorization;
      if (!auth) return reply(401, failure([{ code: 9106, message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers" }]));
      if (!/^Bearer [A-Za-z0-9_-]+$/.test(auth))
        return reply(400, failure([{ code: 6003, message: "Invalid request headers" }, { code: 6111, message: "Invalid format for Authorization header" }]));
      if (auth !== `Bearer ${options.token}`)
        return reply(403, failure([{ code: 10000, message: "Authentication error" }, { code: 9109, message: "Invalid access token" }]));
      let body: Json = {};
      if (raw) {
        try {
          body = JSON.parse(raw) as Json;
        } catch {
          return reply(400, failure([{ code: 9207, message: "Request body is invalid." }]));
        }
      }
      try {
        const [status, out] = route(method, path, url.searchParams, body);
        reply(status, out);
      } catch (err) {
        if (err instanceof ApiFailure) return reply(err.status, failure([{ code: err.code, message: err.message }]));
        reply(500, failure([{ code: 10500, message: err instanceof Error ? err.message : String(err) }]));
      }
    })();
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const storeFor = (zone: string) => {
    const s = byName.get(zone.toLowerCase());
    if (!s) throw new Error(`emulator has no zone ${zone}`);
    return s;
  };

  return {
    baseURL: `http://127.0.0.1:${port}${API_ROOT}`,
    log,
    inject429(n, retryAfterSeconds) {
      for (let i = 0; i < n; i++) faults.push({ status: 429, retryAfter: retryAfterSeconds });
    },
    inject5xx(n, status = 500) {
      for (let i = 0; i < n; i++) faults.push({ status });
    },
    records: (zone) => storeFor(zone).all(),
    seed(zone, records) {
      const s = storeFor(zone);
      return records.map((r) => s.create(r));
    },
    zoneId: (zone) => storeFor(zone).zoneId,
    reset() {
      for (const s of stores.values()) s.clear();
      log.length = 0;
      faults = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
