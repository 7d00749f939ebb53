/**
 * `npm run demo`'s live part, started by scripts/demo.sh inside a sandbox host (sandbox/run-in-sandbox.ts): a real
 * `tack daemon` cuts the islandflow example over from Docker to native.
 */
import { liveDemo } from "./live-demo.js";

if (process.env.TACK_SANDBOX !== "1") {
  console.error("demo/main.ts runs inside the sandbox host: use `npm run demo`");
  process.exit(1);
}
await liveDemo();
