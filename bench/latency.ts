import { createHmac } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { simpleGit } from "simple-git";
import { startDaemon, type RunningDaemon } from "../agent/daemon.js";
import { ISLANDFLOW_AGE_IDENTITY, islandflowHost } from "../sandbox/islandflow-host.js";
import { sandbox } from "../sandbox/sandbox-env.js";
import { writeResult } from "./result-file.js";
import { summarize } from "./stats.js";

/**
 * Push-to-converged latency of the agent (startDaemon, as `tack daemon` runs it) on the sandbox host: the
 * islandflow example in a bare git repo; a commit is pushed, then (webhook mode) GitHub's signed push hook is
 * POSTed to the agent's loopback listener, or (poll mode) the agent finds it on its next poll. Latency = from
 * the end of `git push` to the agent reporting that commit as applied. Also: a hand edit of NPM's DB healed by the
 * agent with polls and drift checks an hour apart (npmDbHeal).
 */
const SECRET = "bench-webhook-secret";
const POLL_MS = 5000;
const EDGE_REPEATS = 3;

const h = await islandflowHost();
const sb = sandbox({ parts: ["systemd", "docker", "ufw", "npm"] });
const base = await mkdtemp(path.join(sb.dir, "latency-"));
const remote = path.join(base, "remote.git");
const stateDir = path.join(base, "state");
await simpleGit().raw(["init", "--bare", "--initial-branch=main", remote]);
const git = simpleGit(h.repo);
await git.init(["--initial-branch=main"]);
await git.addConfig("user.email", "bench@example.org").addConfig("user.name", "bench");
await git.add(".");
await git.commit("islandflow, docker-owned");
await git.addRemote("origin", remote);
await git.push("origin", "main");

async function push(message: string): Promise<string> {
  await git.add(".");
  await git.commit(message);
  await git.push("origin", "main");
  return (await git.revparse(["HEAD"])).trim();
}

async function hook(d: RunningDaemon, commit: string): Promise<void> {
  const body = JSON.stringify({ ref: "refs/heads/main", after: commit });
  const sig = "sha256=" + createHmac("sha256", SECRET).update(body).digest("hex");
  const r = await fetch(`${d.url}/hooks/git`, { method: "POST", body, headers: { "content-type": "application/json", "x-github-event": "push", "x-hub-signature-256": sig } });
  if (r.status !== 202) throw new Error(`webhook refused: HTTP ${r.status} ${await r.text()}`);
}

async function untilApplied(d: RunningDaemon, commit: string, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = d.status();
    if (st.appliedRevision === commit) return;
    if (st.lastReconcile?.revision === commit && st.lastReconcile.result !== "success" && st.lastReconcile.result !== "no-changes")
      throw new Error(`the agent did not apply ${commit}: ${st.lastReconcile.result} ${st.lastReconcile.message ?? ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${commit} to be applied`);
}

async function start(intervalMs: number, driftIntervalMs?: number): Promise<RunningDaemon> {
  // The example's secret is decrypted with its demo identity (the agent's own state dir does not hold it).
  const d = await startDaemon({ repo: remote, branch: "main", stateDir, ageIdentity: ISLANDFLOW_AGE_IDENTITY, listen: "127.0.0.1:0", intervalMs, ...(driftIntervalMs ? { driftIntervalMs } : {}), webhookSecret: SECRET, log: () => undefined });
  const head = (await git.revparse(["HEAD"])).trim();
  await untilApplied(d, head);
  return d;
}

/**
 * After an edge-only commit the agent owes a full drift check (its runtimes were planned unobserved): let it
 * run before the next push, so each measurement starts from an idle agent, as a real push usually finds it.
 */
async function untilDriftChecked(d: RunningDaemon, since: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !d.status().recentReconciles.some((r) => r.triggers.includes("drift") && Date.parse(r.at) >= since)) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function measure(d: RunningDaemon, mode: "webhook" | "poll", change: () => Promise<void>, message: string): Promise<number> {
  await change();
  const commit = await push(message);
  const t0 = performance.now();
  const wall0 = Date.now();
  if (mode === "webhook") await hook(d, commit);
  await untilApplied(d, commit);
  const ms = Math.round(performance.now() - t0);
  await untilDriftChecked(d, wall0);
  return ms;
}

/**
 * A hand edit of NPM's database (what NPM's UI does: a row changes, no conf is rewritten), with polls and drift
 * checks an hour apart: from the edit to the agent having put the row back (the DB watcher, agent/watchers.ts).
 */
async function npmDbHeal(): Promise<number> {
  const db = new Database(path.join(sb.npmData!, "database.sqlite"));
  try {
    const row = () => db.prepare("SELECT forward_host FROM proxy_host WHERE is_deleted = 0 ORDER BY id LIMIT 1").get() as { forward_host: string };
    const good = row().forward_host;
    // Not within the agent's own-write window of its last apply.
    await new Promise((r) => setTimeout(r, 1500));
    db.prepare("UPDATE proxy_host SET forward_host = '10.99.99.96' WHERE id = (SELECT id FROM proxy_host WHERE is_deleted = 0 ORDER BY id LIMIT 1)").run();
    const t0 = performance.now();
    while (row().forward_host !== good) {
      if (performance.now() - t0 > 120_000) throw new Error("NPM's DB edit was not healed within 120 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    return Math.round(performance.now() - t0);
  } finally {
    db.close();
  }
}

const results: Record<string, { edgeOnlyMs: ReturnType<typeof summarize>; exclusiveCutoverMs: number; note: string }> = {};
let npmDbHealMs: ReturnType<typeof summarize> | undefined;
try {
  let flag = true;
  const flipEdgeFlag = async () => {
    await h.edit(`blockExploits: ${flag}`, `blockExploits: ${!flag}`);
    flag = !flag;
  };
  let apiOwner: "docker" | "native" = "docker";
  const flipApi = async () => {
    apiOwner = apiOwner === "docker" ? "native" : "docker";
    await h.setOwners({ api: apiOwner });
  };
  for (const mode of ["webhook", "poll"] as const) {
    // Webhook mode: polling far away, so only the hook can explain a fast apply.
    const d = await start(mode === "webhook" ? 3_600_000 : POLL_MS, mode === "webhook" ? 3_600_000 : undefined);
    try {
      if (mode === "webhook") {
        const heals: number[] = [];
        for (let i = 0; i < EDGE_REPEATS; i++) heals.push(await npmDbHeal());
        npmDbHealMs = summarize(heals);
      }
      const edge: number[] = [];
      for (let i = 0; i < EDGE_REPEATS; i++) edge.push(await measure(d, mode, flipEdgeFlag, `edge: blockExploits ${!flag} on flow`));
      const cut = await measure(d, mode, flipApi, `api: owner ${apiOwner === "docker" ? "native" : "docker"}`);
      results[mode] = {
        edgeOnlyMs: summarize(edge),
        exclusiveCutoverMs: cut,
        note: mode === "poll" ? `poll interval ${POLL_MS} ms: expect up to one interval of waiting on top of the reconcile` : "signed GitHub push hook POSTed right after git push",
      };
    } finally {
      await d.stop();
    }
  }
  await writeResult("latency", { edgeChange: "flow.example.org blockExploits flag (NPM row + conf, nginx -t, reload, probe)", cutover: "api exclusive, docker ↔ native", ...results, npmDbHealMs });
} finally {
  await h.close();
}
