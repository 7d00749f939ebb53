#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, and by `npm pack` through prepack). In a source checkout
// without a build, `npm run tack -- ARGS` runs the TypeScript sources through tsx instead.
try {
  await import("../dist/cli/main.js");
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/cli/main.js")) {
    console.error("error: tack is not built (no dist/cli/main.js): run `npm run build`, or `npm run tack -- ARGS` to run the sources");
    process.exitCode = 1;
  } else {
    throw err;
  }
}
