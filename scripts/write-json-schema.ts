// Regenerate desired-state/tack-v1.schema.json from the zod schema: `npm run json-schema`.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { JSON_SCHEMA_FILE, jsonSchemaText } from "../desired-state/json-schema.js";

const target = path.resolve(import.meta.dirname, "..", JSON_SCHEMA_FILE);
await writeFile(target, jsonSchemaText());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
