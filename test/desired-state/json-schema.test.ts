import { readFile } from "node:fs/promises";
import path from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { JSON_SCHEMA_FILE, jsonSchemaText } from "../../desired-state/json-schema.js";
import { EXAMPLE } from "../helpers/temp-repo.js";

/** The JSON Schema editors use (README "Editor support"): generated from the zod schema, and up to date. */

const ROOT = path.resolve(import.meta.dirname, "../..");

async function validator() {
  const schema = JSON.parse(await readFile(path.join(ROOT, JSON_SCHEMA_FILE), "utf8")) as object;
  return new Ajv({ allErrors: true }).compile(schema);
}

async function example(): Promise<Record<string, any>> {
  return parse(await readFile(path.join(EXAMPLE, "tack.yaml"), "utf8")) as Record<string, any>;
}

describe("the desired-state JSON Schema", () => {
  it("is the zod schema's current output (run npm run json-schema after changing desired-state/schema.ts)", async () => {
    expect(await readFile(path.join(ROOT, JSON_SCHEMA_FILE), "utf8")).toBe(jsonSchemaText());
  });

  it("accepts the islandflow example", async () => {
    const validate = await validator();
    expect(validate(await example()), JSON.stringify(validate.errors)).toBe(true);
  });

  it("rejects a typo'd key, a wrong enum value and a port out of range", async () => {
    const validate = await validator();
    const typo = await example();
    typo.scopes.api.hanoff = typo.scopes.api.handoff;
    delete typo.scopes.api.handoff;
    expect(validate(typo)).toBe(false);
    expect(validate.errors).toContainEqual(expect.objectContaining({ keyword: "additionalProperties", params: { additionalProperty: "hanoff" } }));

    const owner = await example();
    owner.scopes.api.owner = "nativ";
    expect(validate(owner)).toBe(false);
    expect(validate.errors?.map((e) => e.keyword)).toContain("enum");

    const port = await example();
    port.scopes.api.native.port = 70000;
    expect(validate(port)).toBe(false);
  });

  it("the example names it on its first line, by a path that resolves to the file", async () => {
    const first = (await readFile(path.join(EXAMPLE, "tack.yaml"), "utf8")).split("\n")[0]!;
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(m).not.toBeNull();
    expect(path.resolve(EXAMPLE, m![1]!)).toBe(path.join(ROOT, JSON_SCHEMA_FILE));
  });
});
