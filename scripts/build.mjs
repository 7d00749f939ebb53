#!/usr/bin/env node
// `npm run build` (and prepack): the package's dist/.
// 1. tsc -p tsconfig.build.json: the production folders, same layout as the sources.
// 2. esbuild bundles dist/kinds/cloudflare-record/sdk-client.js in place with the part of the Cloudflare SDK it
//    reaches (DNS records, zones, errors): importing the SDK whole is ~1,200 modules and ~0.6 s per process
//    (sdk-client.ts). Everything else stays plain tsc output importing node_modules.
import { rmSync } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const dist = path.join(root, "dist");
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", path.join(root, "tsconfig.build.json")], { stdio: "inherit" });
const sdk = path.join(dist, "kinds/cloudflare-record/sdk-client.js");
const result = await build({
  entryPoints: [sdk],
  outfile: sdk,
  allowOverwrite: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
});
const kb = Math.round(Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes / 1024);
console.log(`build: dist/ compiled; the Cloudflare SDK client bundled (${kb} KB)`);

// 3. The CLI as one bundle (dist/cli-bundle/, what bin/tack.js runs): one file per lazily imported command
//    (esbuild's code splitting keeps `import()` lazy) instead of ~300 modules resolved and compiled one by one at
//    every start (a `tack plan` spent 0.28–0.40 s importing them, 0.13–0.25 s bundled; bench/README.md).
//    better-sqlite3 stays a package (native addon). CommonJS dependencies get a `require` (createRequire).
const cli = await build({
  entryPoints: [path.join(dist, "cli/main.js")],
  outdir: path.join(dist, "cli-bundle"),
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  metafile: true,
  external: ["better-sqlite3"],
  // Whitespace and syntax only (2.2 → 1.6 MB): V8 keeps every module's source text in the heap for lazy
  // compilation, in the agent for its whole life; names stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  banner: { js: 'import { createRequire as __tackCreateRequire } from "node:module"; const require = __tackCreateRequire(import.meta.url);' },
  logLevel: "warning",
});
const files = Object.keys(cli.metafile.outputs).filter((f) => f.endsWith(".js")).length;
console.log(`build: the CLI bundled into dist/cli-bundle/ (${files} files)`);
