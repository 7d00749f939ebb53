import { envelope, paginate, type Json } from "./envelope.js";
import { recordFilter } from "./record-filters.js";
import { ApiFailure, type RecordInput, type RecordStore } from "./record-store.js";

/**
 * The emulator's routes below `/client/v4`, one small handler each: zones (list by name, get by id), and a
 * zone's DNS records (list, create, get, PUT, PATCH, DELETE, batch). A handler returns the body of a 200
 * answer or throws ApiFailure, which the server turns into the error envelope.
 */

export interface ApiRequest {
  method: string;
  /** Path below the API root, e.g. `/zones/<id>/dns_records`. */
  path: string;
  query: URLSearchParams;
  body: Json;
}

/** The emulated zones, by id and by lower-cased name. */
export interface ZoneDirectory {
  byId: Map<string, RecordStore>;
  byName: Map<string, RecordStore>;
}

function zoneJson(s: RecordStore): Json {
  return {
    id: s.zoneId,
    name: s.zoneName,
    status: "active",
    paused: false,
    type: "full",
    name_servers: ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
  };
}

function listZones(zones: ZoneDirectory, q: URLSearchParams): Json {
  const name = q.get("name");
  const found = [...zones.byId.values()].filter((s) => name === null || s.zoneName === name.toLowerCase());
  return paginate(found.map(zoneJson), q);
}

function zoneById(zones: ZoneDirectory, id: string, path: string): RecordStore {
  const s = zones.byId.get(id);
  if (!s) throw new ApiFailure(400, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
  return s;
}

function listRecords(store: RecordStore, q: URLSearchParams): Json {
  const keep = recordFilter(q, store.zoneName);
  const rows = store
    .all()
    .filter(keep)
    .sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return paginate(rows, q);
}

/** The API assigns ids: one in the body is ignored. */
function createRecord(store: RecordStore, body: Json): Json {
  return envelope(store.create({ ...(body as RecordInput), id: undefined }));
}

/** `GET|PUT|PATCH|DELETE /zones/:zone/dns_records/:id`; undefined for another method. */
function recordById(store: RecordStore, id: string, method: string, body: Json): Json | undefined {
  if (method === "GET") return envelope(store.get(id));
  if (method === "PUT") return envelope(store.write(id, body as RecordInput, "put"));
  if (method === "PATCH") return envelope(store.write(id, body as RecordInput, "patch"));
  if (method === "DELETE") return envelope({ id: store.delete(id).id });
  return undefined;
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

/**
 * Dispatch by path segments, in the API's order of checks: an unknown zone id is 7003 before the method is
 * looked at; an unknown path below a zone is 7000; a known path with another method is 405.
 */
export function route(zones: ZoneDirectory, req: ApiRequest): Json {
  const { method, query, body } = req;
  const [root, zoneId, sub, id, ...rest] = req.path.split("/").filter(Boolean);
  const noRoute = () => new ApiFailure(400, 7000, `No route for that URI`);
  if (root !== "zones") throw noRoute();
  if (zoneId === undefined && method === "GET") return listZones(zones, query);
  const store = zoneById(zones, zoneId ?? "", req.path);
  if (sub === undefined && method === "GET") return envelope(zoneJson(store));
  if (sub !== "dns_records") throw noRoute();
  if (id === undefined) {
    if (method === "GET") return listRecords(store, query);
    if (method === "POST") return createRecord(store, body);
  } else if (rest.length === 0) {
    if (id === "batch" && method === "POST") return batch(store, body);
    const out = recordById(store, id, method, body);
    if (out) return out;
  }
  throw new ApiFailure(405, 10405, `Method ${method} not allowed`);
}
