import type { z } from "zod";
import { closest } from "../core/did-you-mean.js";
import { objectKeysAt } from "./repair.js";

/**
 * Words a user understands for the schema's issues: what was expected, what was found, and for a typo the key or
 * value that was probably meant. An unknown key is located at the key itself (`at: "key"`), not at its value.
 */
export interface SchemaMessage {
  path: PropertyKey[];
  message: string;
  at?: "key";
}

/** README's section for each top-level key of the format (README "Desired-state format reference"). */
const README_SECTION: Record<string, string> = {
  runtimes: "runtimes",
  scopes: "scopes.<name>",
  edge: "edge",
  firewall: "firewall",
  dns: "dns",
  policy: "policy",
};

function readmeSection(p: readonly PropertyKey[]): string {
  const top = p.length ? README_SECTION[String(p[0])] : undefined;
  return `see README "Desired-state format reference", ${top ? `\`${top}\`` : "Top level"}`;
}

function valueAt(data: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const seg of p) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "..." : s;
}

// zod's own messages start so; anything else was written for this schema (durations, addresses) and is kept.
const isDefaultMessage = (m: string) => /^Invalid /.test(m);

const suggestion = (got: unknown, candidates: string[]) => {
  const hit = typeof got === "string" ? closest(got, candidates) : undefined;
  return hit ? ` — did you mean ${JSON.stringify(hit)}?` : "";
};

export function issueMessages(issue: z.core.$ZodIssue, data: unknown, schema: unknown): SchemaMessage[] {
  const p = [...issue.path];
  const got = valueAt(data, p);
  switch (issue.code) {
    case "invalid_value": {
      const values = issue.values.map(String);
      return [
        issue.values.length === 1
          ? { path: p, message: `must be ${describe(issue.values[0])} (got ${describe(got)})${suggestion(got, values)}` }
          : { path: p, message: `must be one of ${values.join(", ")} (got ${describe(got)})${suggestion(got, values)}` },
      ];
    }
    case "invalid_type":
      if (got === undefined) return [{ path: p, message: "is required" }];
      if (!isDefaultMessage(issue.message)) return [{ path: p, message: `${issue.message} (got ${describe(got)})` }];
      return [{ path: p, message: `must be ${issue.expected === "object" ? "a mapping" : issue.expected === "array" ? "a list" : `a ${issue.expected}`} (got ${describe(got)})` }];
    case "unrecognized_keys": {
      const known = objectKeysAt(schema, p);
      return issue.keys.map((k) => ({
        path: [...p, k],
        at: "key" as const,
        message: `unknown key "${k}"${suggestion(k, known)} (${readmeSection(p)})`,
      }));
    }
    case "too_small":
      return [{ path: p, message: issue.origin === "array" ? `needs at least ${String(issue.minimum)} item(s)` : `must be at least ${String(issue.minimum)} (got ${describe(got)})` }];
    case "too_big":
      return [{ path: p, message: issue.origin === "string" ? `is longer than ${String(issue.maximum)} characters` : `must be at most ${String(issue.maximum)} (got ${describe(got)})` }];
    case "invalid_format":
      return [{ path: p, message: `${issue.message.startsWith("Invalid") ? `must be a valid ${issue.format}` : issue.message} (got ${describe(got)})` }];
    default:
      return [{ path: p, message: `${issue.message}${got !== undefined && typeof got !== "object" ? ` (got ${describe(got)})` : ""}` }];
  }
}
