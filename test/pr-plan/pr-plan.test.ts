import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { expectGolden } from "./golden.js";
import { commitOn, prPlan, prRepo, replace, tack, type Edit } from "./pr-repo.js";

/**
 * Golden tests of `tack plan --repo --base main --head pr` on throw-away pull requests against the islandflow
 * example: markdown (the PR comment) and JSON (README "Plan JSON"), byte for byte, plus the exit code CI sees.
 * Regenerate with UPDATE_GOLDEN=1 and review the diff.
 */

const allNative = replace("tack.yaml", /^(\s+)owner: docker$/gm, "$1owner: native", 4);

const extraRecords = [
  "www", "docs", "status", "grafana", "hooks", "cdn", "mail-in", "auth",
].map((n) => `    - { name: ${n}.example.org, type: A, content: 203.0.113.10, proxied: true }`);

const scenarios: { name: string; head: Edit[]; base?: Edit[]; exit: number; blocking: string[] }[] = [
  {
    // The reference: every scope from Docker to native, and the PR tunes the api unit and the compose file.
    name: "reference-cutover",
    head: [
      allNative,
      replace("units/islandflow-api.service", "Environment=API_PORT=4000\n", "Environment=API_PORT=4000\nEnvironment=NATS_TOKEN=s3cr3t-nats-token\nEnvironment=LOG_LEVEL=info\n", 1),
      replace("units/islandflow-api.service", "RestartSec=2", "RestartSec=5", 1),
      replace("compose/docker-compose.yml", "OPTIONS_INGEST_ADAPTER: synthetic", "OPTIONS_INGEST_ADAPTER: synthetic, OPTIONS_API_KEY: s3cr3t-api-key", 1),
    ],
    exit: 0,
    blocking: [],
  },
  {
    name: "ssh-lockout",
    head: [replace("tack.yaml", "      - { allow: tcp, port: 22, comment: ssh }\n", "", 1)],
    exit: 1,
    blocking: ["ssh-lockout"],
  },
  {
    // The reference's outage, caught in review: web goes native behind NPM, nothing lets the bridge reach 3000.
    name: "no-edge-path",
    head: [
      replace("tack.yaml", /( {2}web:\n {4}owner: )docker/, "$1native", 1),
      replace("tack.yaml", "  ufw:\n    rules:\n", "  ufw:\n    deriveEdgeRules: false\n    rules:\n", 1),
    ],
    exit: 1,
    blocking: ["no-edge-path"],
  },
  {
    // Ten records on main, four of them re-pointed: 40% of the DNS layer > maxChangePercent 30.
    name: "dns-blast-radius",
    base: [replace("tack.yaml", "\nsecrets:", `\n${extraRecords.join("\n")}\nsecrets:`, 1)], // the records list ends where secrets start
    head: [replace("tack.yaml", /(name: (?:www|docs|status|grafana)\.example\.org, type: A, content: )203\.0\.113\.10/g, "$1198.51.100.7", 4)],
    exit: 1,
    blocking: ["blast-radius"],
  },
  {
    name: "invalid-file",
    head: [
      replace("tack.yaml", /( {2}api:\n {4}owner: )docker/, "$1nativ", 1),
      replace("tack.yaml", "port: 4000, from: npm-bridge", "port: 70000, from: npm-bridge", 1),
    ],
    exit: 1,
    blocking: [],
  },
  { name: "no-changes", head: [], exit: 0, blocking: [] },
];

interface PlanJson {
  formatVersion: number;
  status: string;
  blocking: boolean;
  findings: { id: string; severity: string; location: { file: string; line: number } | null }[];
  cutovers: { scope: string; steps: string[] }[];
  files: { path: string; status: string; diff: string }[];
  counts: { changes: number; cutovers: number };
}

describe("pull request plans (golden)", () => {
  for (const s of scenarios) {
    it(`${s.name}: markdown and JSON match the goldens, exit ${s.exit}`, async () => {
      const repo = await prRepo(s.head, s.base);
      const md = await prPlan(repo, "markdown");
      const json = await prPlan(repo, "json");
      await expectGolden(`${s.name}.md`, md.stdout);
      await expectGolden(`${s.name}.json`, json.stdout);
      expect([md.code, json.code]).toEqual([s.exit, s.exit]);

      const plan = JSON.parse(json.stdout) as PlanJson;
      expect(plan.formatVersion).toBe(1);
      expect(md.stdout.startsWith("<!-- tack-plan -->\n**tack plan")).toBe(true);
      const blocking = [...new Set(plan.findings.filter((f) => f.severity === "error").map((f) => f.id))];
      if (plan.status === "planned") expect(blocking).toEqual(s.blocking);
      expect(plan.blocking).toBe(s.exit === 1);
      for (const id of s.blocking) expect(md.stdout).toMatch(new RegExp(`\\| \\*\\*error\\*\\* \\(blocking\\) \\| ${id} \\|`));
      // The same plan twice is the same bytes: no clock, no temp paths.
      expect((await prPlan(repo, "markdown")).stdout).toBe(md.stdout);
      expect(md.stdout + json.stdout).not.toMatch(/tack-rev-|\/tmp\//);
    });
  }

  it("reference cutover: the ordered steps per scope, the file diffs with secrets masked", async () => {
    const repo = await prRepo(scenarios[0]!.head);
    const md = (await prPlan(repo, "markdown")).stdout;
    expect(md).toContain(
      "1. **api**: docker → native (exclusive): stop and remove compose service api; install, enable and start islandflow-api.service; gate on GET http://127.0.0.1:4000/health; NPM api.flow.example.org → &lt;npm-bridge gateway&gt;:4000; UFW allow 4000/tcp from npm-bridge (already in place)",
    );
    // Overlap: the new runtime (and its derived UFW path) first, the old one retired after the edge moved.
    expect(md).toMatch(/\*\*web\*\*: docker → native \(overlap\): UFW allow 3000\/tcp from npm-bridge; enable and start islandflow-web.service; gate on GET http:\/\/127.0.0.1:3000\/health; NPM flow.example.org → &lt;npm-bridge gateway&gt;:3000; stop and remove compose service web/);
    expect(md).toContain("<details><summary><code>units/islandflow-api.service</code> (modified)</summary>");
    expect(md).toContain("<details><summary><code>compose/docker-compose.yml</code> (modified)</summary>");
    expect(md).toContain("+Environment=NATS_TOKEN=(secret masked)");
    expect(md).toContain("+Environment=LOG_LEVEL=info");
    expect(md).not.toContain("s3cr3t");
    const json = JSON.parse((await prPlan(repo, "json")).stdout) as PlanJson;
    expect(json.counts.cutovers).toBe(4);
    expect(json.cutovers.map((c) => c.scope)).toEqual(["api", "ingest-options", "web", "workers"]);
    expect(json.files.map((f) => [f.path, f.status])).toEqual([["compose/docker-compose.yml", "modified"], ["units/islandflow-api.service", "modified"]]);
    expect(JSON.stringify(json)).not.toContain("s3cr3t");
    expect((await prPlan(repo, "markdown", "--detailed-exitcode")).code).toBe(2);
  });

  it("an invalid head gives its diagnostics with file:line instead of a plan", async () => {
    const repo = await prRepo(scenarios.find((s) => s.name === "invalid-file")!.head);
    const json = JSON.parse((await prPlan(repo, "json")).stdout) as PlanJson;
    expect(json.status).toBe("invalid");
    expect(json.counts.changes).toBe(0);
    const errors = json.findings.filter((f) => f.severity === "error");
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const e of errors) expect(e.location?.file).toBe("tack.yaml");
    const md = (await prPlan(repo, "markdown")).stdout;
    expect(md).toContain("is invalid (2 errors): nothing can be planned or applied");
    expect(md).toMatch(/\| \*\*error\*\* \(blocking\) \| \w+ \| `tack.yaml:\d+:\d+` `scopes.api.owner` \|.*nativ/);
    const text = await prPlan(repo, "text", "--detailed-exitcode");
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/tack.yaml:\d+:\d+ /);
  });

  it("diverged branches: the plan starts from the merge-base, so main's newer commits are not undone", async () => {
    // The PR re-points flow; after it branched, main gained a CNAME. Planning from main's tip would delete it.
    const repo = await prRepo([replace("tack.yaml", "name: flow.example.org, type: A, content: 203.0.113.10", "name: flow.example.org, type: A, content: 203.0.113.20", 1)]);
    // The records list ends where the secrets section starts.
    const cname = "    - { name: new.example.org, type: CNAME, content: flow.example.org, proxied: true }\nsecrets:";
    await commitOn(repo, "main", [replace("tack.yaml", "\nsecrets:", `\n${cname}`, 1)], "main: add new.example.org");

    const text = await prPlan(repo, "text");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/update cloudflare\.record A flow\.example\.org/);
    expect(text.stdout).not.toContain("new.example.org");
    const json = JSON.parse((await prPlan(repo, "json")).stdout) as PlanJson & { changes: { kind: string; name: string; action: string }[]; baseRevision: string };
    expect(json.changes.map((c) => `${c.action} ${c.kind}`)).toEqual(["update cloudflare.record"]);

    // --base-exact compares with main's tip: the CNAME shows as deleted, which is what merging would NOT do.
    const exact = await prPlan(repo, "text", "--base-exact");
    expect(exact.stdout).toMatch(/delete cloudflare\.record CNAME new\.example\.org/);
    const exactJson = JSON.parse((await prPlan(repo, "json", "--base-exact")).stdout) as { baseRevision: string };
    expect(exactJson.baseRevision).not.toBe(json.baseRevision);
  });

  it("branches without a common ancestor: a clear error that names --base-exact", async () => {
    const repo = await prRepo([]);
    await execa("git", ["-C", repo, "checkout", "-q", "--orphan", "other"]);
    await execa("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "unrelated"]);
    const r = await tack(["plan", "--repo", repo, "--base", "main", "--head", "other"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/main and other have no common ancestor.*--base-exact/);
  });

  it("no changes: says so, exit 0, and --detailed-exitcode 0", async () => {
    const repo = await prRepo([]);
    const md = await prPlan(repo, "markdown", "--detailed-exitcode");
    expect(md.code).toBe(0);
    expect(md.stdout).toContain("No changes.");
  });

  it("a blocking finding exits 1 even with --detailed-exitcode", async () => {
    const repo = await prRepo(scenarios.find((s) => s.name === "ssh-lockout")!.head);
    expect((await prPlan(repo, "json", "--detailed-exitcode")).code).toBe(1);
  });
});
