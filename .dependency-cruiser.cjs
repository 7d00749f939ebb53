/**
 * The layers of the tree (ARCHITECTURE.md), checked in `npm run lint`:
 *   core ← desired-state ← kinds ← engine ← run ← reports / agent ← cli;  sandbox, demo and bench sit beside them.
 *   import (tack import) reads the host through the kinds and writes desired state: core ← desired-state ← kinds ← import ← cli.
 * Each rule says what a layer may not import. Type-only imports count too (tsPreCompilationDeps).
 */
const LOWER_THAN = (layers) => `^(${layers.join("|")})/`;
module.exports = {
  forbidden: [
    { name: "no-cycles", severity: "error", comment: "no import cycles, type-only imports included", from: {}, to: { circular: true } },
    { name: "core-is-the-bottom", severity: "error", comment: "core imports nothing else of tack", from: { path: "^core/" }, to: { path: LOWER_THAN(["desired-state", "kinds", "engine", "run", "reports", "agent", "import", "cli", "sandbox", "demo", "bench", "test"]) } },
    { name: "desired-state-imports-core-only", severity: "error", from: { path: "^desired-state/" }, to: { path: LOWER_THAN(["kinds", "engine", "run", "reports", "agent", "import", "cli", "sandbox", "demo", "bench", "test"]) } },
    { name: "no-driver-imports-the-engine", severity: "error", comment: "a kind uses core (and desired-state types) only", from: { path: "^kinds/", pathNot: "\\.test\\.ts$" }, to: { path: LOWER_THAN(["engine", "run", "reports", "agent", "import", "cli", "demo", "bench", "test"]) } },
    { name: "kinds-are-independent", severity: "error", comment: "a kind never imports another kind: they meet in the table (kinds/index.ts)", from: { path: "^kinds/([^/]+)/" }, to: { path: "^kinds/", pathNot: ["^kinds/$1/", "^kinds/index\\.ts$"] } },
    { name: "engine-below-the-run", severity: "error", from: { path: "^engine/" }, to: { path: LOWER_THAN(["run", "reports", "agent", "import", "cli", "sandbox", "demo", "bench", "test"]) } },
    { name: "run-below-the-agent", severity: "error", from: { path: "^run/" }, to: { path: LOWER_THAN(["reports", "agent", "import", "cli", "sandbox", "demo", "bench", "test"]) } },
    { name: "reports-below-the-agent", severity: "error", from: { path: "^reports/" }, to: { path: LOWER_THAN(["agent", "import", "cli", "sandbox", "demo", "bench", "test"]) } },
    { name: "agent-below-the-cli", severity: "error", from: { path: "^agent/" }, to: { path: LOWER_THAN(["import", "cli", "sandbox", "demo", "bench", "test"]) } },
    { name: "import-reads-through-the-kinds", severity: "error", comment: "tack import sees the host as tack plan does (the kinds' drivers) and writes desired state; it plans and applies nothing", from: { path: "^import/" }, to: { path: LOWER_THAN(["engine", "run", "reports", "agent", "cli", "sandbox", "demo", "bench", "test"]) } },
    { name: "product-never-imports-the-test-bed", severity: "error", comment: "production code never imports the sandbox, the demo, the bench or the tests", from: { path: LOWER_THAN(["core", "desired-state", "kinds", "engine", "run", "reports", "agent", "import", "cli"]), pathNot: "\\.test\\.ts$" }, to: { path: LOWER_THAN(["sandbox", "demo", "bench", "test"]) } },
    { name: "nothing-outside-test-imports-test", severity: "error", from: { pathNot: "^test/" }, to: { path: "^test/" } },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
