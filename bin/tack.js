#!/usr/bin/env node
// Runs the compiled, bundled CLI (dist/cli-bundle/, built by `npm run build` — scripts/build.mjs — and by `npm pack`
// through prepack). In a source checkout, `npm run tack -- ARGS` runs the TypeScript sources through tsx instead.
try {
  await import("../dist/cli-bundle/main.js");
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/cli-bundle/main.js")) {
    console.error("error: tack is not built (no dist/cli-bundle/main.js): run `npm run build`, or `npm run tack -- ARGS` to run the sources");
    process.exitCode = 1;
  } else {
    throw err;
  }
}
