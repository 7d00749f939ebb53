#!/usr/bin/env node
// The CLI run from the TypeScript sources through tsx's loader (a devDependency): what the tests, the demo and
// `npm run tack` use, so they never run a stale dist/. The package's bin (bin/tack.js) runs compiled JavaScript.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
