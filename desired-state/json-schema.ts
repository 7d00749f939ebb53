import { z } from "zod";
import { hostSchema } from "./schema.js";

/**
 * The desired-state format as a JSON Schema, for editors (yaml-language-server: completion, hover, typos
 * underlined while typing). Generated from the zod schema, so it cannot drift from what `tack validate` accepts;
 * the checked-in copy (JSON_SCHEMA_FILE) is kept up to date by `npm run json-schema`, and a test fails when it is
 * stale. It describes the input (defaults make keys optional) and covers shapes, enums and ranges; what only
 * code can check (files exist, addresses parse, cross-references) stays `tack validate`'s job.
 */
export const JSON_SCHEMA_FILE = "desired-state/tack-v1.schema.json";

export function desiredStateJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(hostSchema, {
    io: "input",
    target: "draft-7",
    unrepresentable: "any",
    // zod writes startsWith as a non-standard format next to an equivalent pattern: keep only the pattern.
    override: (ctx) => {
      if (ctx.jsonSchema.format === "starts_with") delete ctx.jsonSchema.format;
    },
  }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: "https://tack.invalid/schemas/tack-v1.schema.json",
    title: "tack desired state (apiVersion: tack/v1, kind: Host)",
    description: 'One Host of a tack desired-state repo. See README "Desired-state format reference".',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$schema")),
  };
}

/** The file's exact text: stable key order, two-space indent, trailing newline. */
export function jsonSchemaText(): string {
  return JSON.stringify(desiredStateJsonSchema(), null, 2) + "\n";
}
