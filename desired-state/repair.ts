import type { z } from "zod";

/**
 * When a document fails the schema, tack still wants to run the semantic checks on the rest of it, so that
 * `validate` reports every mistake in one go (a typo in one scope must not hide a missing unit file in another).
 * This makes a best-effort copy of the data in which each failing value is removed (when optional) or replaced by
 * a neutral value of the right type. The copy is only ever used for more diagnostics, never for a plan.
 */

type Def = { type: string; [k: string]: unknown };
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

function unwrap(s: unknown): { schema: unknown; optional: boolean } {
  let cur = s;
  let optional = false;
  for (;;) {
    const d = defOf(cur);
    if (d.type === "optional" || d.type === "default" || d.type === "prefault" || d.type === "nullable") {
      optional = true;
      cur = d.innerType;
    } else if (d.type === "pipe") cur = d.in;
    else return { schema: cur, optional };
  }
}

function childSchema(s: unknown, seg: PropertyKey): unknown {
  const d = defOf(unwrap(s).schema);
  if (d.type === "object") return (d.shape as Record<string, unknown>)[String(seg)];
  if (d.type === "array") return d.element;
  if (d.type === "record") return d.valueType;
  return undefined;
}

/** The keys a strict object accepts at `path` of the schema (for "did you mean"); empty when not an object. */
export function objectKeysAt(schema: unknown, p: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  for (const seg of p) s = s === undefined ? undefined : childSchema(s, seg);
  if (s === undefined) return [];
  const d = defOf(unwrap(s).schema);
  return d.type === "object" ? Object.keys(d.shape as Record<string, unknown>) : [];
}

function neutral(s: unknown, bad?: unknown): { value?: unknown; remove: boolean } {
  const { schema, optional } = unwrap(s);
  if (optional) return { remove: true };
  const d = defOf(schema);
  switch (d.type) {
    case "enum": {
      // `type: a` stands for A: checking the rest with an unrelated entry (NS) would add a wrong second error.
      const entries = Object.values(d.entries as Record<string, unknown>);
      const same = entries.find((e) => typeof bad === "string" && typeof e === "string" && e.toLowerCase() === bad.toLowerCase());
      return { value: same ?? entries.at(-1), remove: false };
    }
    case "literal":
      return { value: (d.values as unknown[])[0], remove: false };
    case "string":
      return { value: "x", remove: false };
    case "number":
      return { value: 1, remove: false };
    case "boolean":
      return { value: false, remove: false };
    case "array":
      return { value: [], remove: false };
    case "object":
    case "record":
      return { value: {}, remove: false };
    default:
      return { remove: false };
  }
}

function valueAt(data: unknown, p: readonly PropertyKey[]): unknown {
  let v = data;
  for (const seg of p) v = v === null || typeof v !== "object" ? undefined : (v as Record<PropertyKey, unknown>)[seg];
  return v;
}

function setAt(data: unknown, p: PropertyKey[], fix: { value?: unknown; remove: boolean }): boolean {
  if (p.length === 0) return false;
  let cur: unknown = data;
  for (const seg of p.slice(0, -1)) {
    if (cur === null || typeof cur !== "object") return false;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  if (cur === null || typeof cur !== "object") return false;
  const last = p[p.length - 1]!;
  if (fix.remove) delete (cur as Record<PropertyKey, unknown>)[last];
  else if ("value" in fix) (cur as Record<PropertyKey, unknown>)[last] = fix.value;
  else return false;
  return true;
}

export function repairForDiagnostics<T>(schema: z.ZodType<T>, data: unknown, issues: z.core.$ZodIssue[]): T | undefined {
  let copy: unknown = structuredClone(data);
  let current = issues;
  for (let round = 0; round < 4; round++) {
    for (const issue of current) {
      if (issue.code === "unrecognized_keys") {
        for (const k of issue.keys) setAt(copy, [...issue.path, k], { remove: true });
        continue;
      }
      let s: unknown = schema;
      for (const seg of issue.path) s = s === undefined ? undefined : childSchema(s, seg);
      if (s === undefined) return undefined;
      if (issue.path.length === 0) return undefined;
      if (!setAt(copy, issue.path, neutral(s, valueAt(copy, issue.path)))) return undefined;
    }
    const again = schema.safeParse(copy);
    if (again.success) return again.data;
    current = again.error.issues;
    copy = structuredClone(copy);
  }
  return undefined;
}
