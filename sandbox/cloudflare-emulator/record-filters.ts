import type { EmulatedRecord } from "./record-store.js";

/**
 * The list filters of `GET /zones/:id/dns_records` that tack uses: `name` / `name.exact` (and the other
 * name operators), `type`, `proxied`, `content`, `comment.*`, combined with `match=all` (default) or `any`.
 * Query keys use dots, as the SDK's query serialiser writes nested objects (`allowDots`).
 */

type Test = (r: EmulatedRecord) => boolean;

function stringOps(field: (r: EmulatedRecord) => string | null, key: string, q: URLSearchParams): Test[] {
  const tests: Test[] = [];
  const low = (r: EmulatedRecord) => (field(r) ?? "").toLowerCase();
  const plain = q.get(key);
  if (plain !== null) tests.push((r) => low(r) === plain.toLowerCase());
  const exact = q.get(`${key}.exact`);
  if (exact !== null) tests.push((r) => low(r) === exact.toLowerCase());
  const contains = q.get(`${key}.contains`);
  if (contains !== null) tests.push((r) => low(r).includes(contains.toLowerCase()));
  const starts = q.get(`${key}.startswith`);
  if (starts !== null) tests.push((r) => low(r).startsWith(starts.toLowerCase()));
  const ends = q.get(`${key}.endswith`);
  if (ends !== null) tests.push((r) => low(r).endsWith(ends.toLowerCase()));
  if (q.has(`${key}.absent`)) tests.push((r) => !field(r));
  if (q.has(`${key}.present`)) tests.push((r) => !!field(r));
  return tests;
}

export function recordFilter(q: URLSearchParams, zone: string): Test {
  const tests: Test[] = [
    // A relative name filter means the name in the zone, as the API reads it.
    ...stringOps((r) => r.name, "name", withFqdnNames(q, zone)),
    ...stringOps((r) => r.content, "content", q),
    ...stringOps((r) => r.comment, "comment", q),
  ];
  const type = q.get("type");
  if (type !== null) tests.push((r) => r.type === type.toUpperCase());
  const proxied = q.get("proxied");
  if (proxied !== null) tests.push((r) => r.proxied === (proxied === "true"));
  if (tests.length === 0) return () => true;
  return q.get("match") === "any" ? (r) => tests.some((t) => t(r)) : (r) => tests.every((t) => t(r));
}

function withFqdnNames(q: URLSearchParams, zone: string): URLSearchParams {
  const out = new URLSearchParams(q);
  for (const key of ["name", "name.exact"]) {
    const v = q.get(key);
    if (v !== null && v !== zone && !v.toLowerCase().endsWith(`.${zone}`)) out.set(key, v === "@" ? zone : `${v}.${zone}`);
  }
  return out;
}
