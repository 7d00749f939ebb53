/**
 * `npm run demo`'s live part, started by scripts/demo.sh inside a sandbox host (sandbox/run-in-sandbox.ts): a real
 * `tack daemon` cuts the islandflow example over from Docker to native. In a terminal (or with --keep) the agent
 * and its status page stay up until Enter is pressed.
 */
import { liveDemo } from "./live-demo.js";

if (process.env.TACK_SANDBOX !== "1") {
  console.error("demo/main.ts runs inside the sandbox host: use `npm run demo`");
  process.exit(1);
}
// A person at a terminal gets time to look at the status page; CI (no terminal) goes straight to teardown.
await liveDemo({ keep: process.argv.includes("--keep") || !!process.stdin.isTTY });
