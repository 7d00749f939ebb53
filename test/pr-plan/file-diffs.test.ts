import { readFile, rename } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { maskSecretLine } from "../../reports/pull-request-plan.js";
import { prPlan, prRepo, replace } from "./pr-repo.js";

interface PlanJson { [key: string]: unknown; files: { path: string; status: string; diff: string }[] }

describe("file diffs in pull request plans", () => {
  it("masks values of secret-named keys, keeps variable references and ordinary lines", () => {
    expect(maskSecretLine("+Environment=DB_PASSWORD=hunter2")).toBe("+Environment=DB_PASSWORD=(secret masked)");
    expect(maskSecretLine("-      GITHUB_TOKEN: ghp_abc")).toBe("-      GITHUB_TOKEN: (secret masked)");
    expect(maskSecretLine(' Environment="API_KEY=xyz"')).toBe(' Environment="API_KEY=(secret masked)');
    expect(maskSecretLine("+      CF_API_TOKEN: ${CF_API_TOKEN}")).toBe("+      CF_API_TOKEN: ${CF_API_TOKEN}");
    expect(maskSecretLine("+Environment=API_PORT=4000")).toBe("+Environment=API_PORT=4000");
    expect(maskSecretLine("+++ b/units/secret-keeper.service")).toBe("+++ b/units/secret-keeper.service");
  });

  it("shows an added unit file and a deleted one, with paths relative to the desired-state dir", async () => {
    // The workers scope now runs a renamed unit: the old file goes, a new one comes.
    const repo = await prRepo([
      replace("tack.yaml", "units: [islandflow-workers.service]", "units: [islandflow-jobs.service]", 1),
      async (dir) => {
        await rename(path.join(dir, "units/islandflow-workers.service"), path.join(dir, "units/islandflow-jobs.service"));
      },
      replace("units/islandflow-jobs.service", "Description=", "Description=(renamed) ", 1),
    ]);
    const json = JSON.parse((await prPlan(repo, "json")).stdout) as PlanJson;
    expect(json.files.map((f) => [f.path, f.status])).toEqual([
      ["units/islandflow-jobs.service", "added"],
      ["units/islandflow-workers.service", "deleted"],
    ]);
    expect(json.files[0]!.diff).toMatch(/^--- \/dev\/null\n\+\+\+ b\/units\/islandflow-jobs.service\n@@ -0,0 \+1,\d+ @@\n\+\[Unit\]/);
    const md = (await prPlan(repo, "markdown")).stdout;
    expect(md).toContain("<details><summary><code>units/islandflow-workers.service</code> (deleted)</summary>");
  });

  it("an invalid head still shows the unit and compose files it changes", async () => {
    const repo = await prRepo([
      replace("tack.yaml", "owner: docker\n    handoff: exclusive                  #", "owner: nobody\n    handoff: exclusive                  #", 1),
      replace("units/islandflow-api.service", "RestartSec=2", "RestartSec=9", 1),
    ]);
    const run = await prPlan(repo, "json");
    const json = JSON.parse(run.stdout) as PlanJson;
    expect(run.code).toBe(1);
    expect(json.status).toBe("invalid");
    expect(json.files.map((f) => f.path)).toEqual(["units/islandflow-api.service"]);
    expect(json.files[0]!.diff).toContain("+RestartSec=9");
  });

  it("README 'Plan JSON' documents exactly the keys the JSON form has", async () => {
    const readme = await readFile(path.resolve(import.meta.dirname, "../../README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Plan JSON"), readme.indexOf("\n## ", readme.indexOf("## Plan JSON") + 3));
    const documented = [...section.matchAll(/^\| `(\w+)(?:\[\])?` \|/gm)].map((m) => m[1]);
    const repo = await prRepo([]);
    const keys = Object.keys(JSON.parse((await prPlan(repo, "json")).stdout) as PlanJson);
    expect(documented).toEqual(keys);
  });
});
