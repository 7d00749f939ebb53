import { describe, expect, it } from "vitest";
import type { DesiredComposeService } from "../../core/resources.js";
import { diffService, parseHealth, planServices, type ObservedService } from "./compose-plan.js";

function want(state: DesiredComposeService["state"]): DesiredComposeService {
  return {
    kind: "compose.service",
    name: "flow/api",
    project: "flow",
    service: "api",
    files: ["/repo/compose.yml"],
    workingDir: "/repo",
    env: {},
    state,
    scope: "api",
  };
}

function have(containers: { state: string; hash?: string }[], expectedHash = "h1"): ObservedService {
  return {
    name: "flow/api",
    project: "flow",
    service: "api",
    defined: true,
    expectedHash,
    image: "busybox",
    containers: containers.map((c, i) => ({
      id: `c${i}`,
      name: `flow_api_${i + 1}`,
      state: c.state,
      status: c.state === "running" ? "Up 1 second" : "Exited (0) 1 second ago",
      health: undefined,
      configHash: c.hash ?? "h1",
    })),
  };
}

const rows: { name: string; state: DesiredComposeService["state"]; actual: ObservedService | undefined; expect: string[] }[] = [
  { name: "never observed → create", state: "running", actual: undefined, expect: ["create runtime-start safe state"] },
  { name: "no container → create", state: "running", actual: have([]), expect: ["create runtime-start safe state"] },
  { name: "running, current → nothing", state: "running", actual: have([{ state: "running" }]), expect: [] },
  { name: "running, current, not in the inventory → take over (nothing runs)", state: "running", actual: { ...have([{ state: "running" }]), tracked: false }, expect: ["update runtime-start safe ownership"] },
  { name: "running, stale, not in the inventory → recreate only", state: "running", actual: { ...have([{ state: "running", hash: "old" }]), tracked: false }, expect: ["update runtime-start disruptive configHash"] },
  { name: "running, current, tracked → nothing", state: "running", actual: { ...have([{ state: "running" }]), tracked: true }, expect: [] },
  { name: "restarting counts as running", state: "running", actual: have([{ state: "restarting" }]), expect: [] },
  { name: "exited → start", state: "running", actual: have([{ state: "exited" }]), expect: ["update runtime-start safe state"] },
  { name: "created → start", state: "running", actual: have([{ state: "created" }]), expect: ["update runtime-start safe state"] },
  {
    name: "running, stale hash → recreate (disruptive)",
    state: "running",
    actual: have([{ state: "running", hash: "old" }]),
    expect: ["update runtime-start disruptive configHash"],
  },
  {
    name: "exited, stale hash → recreate (safe)",
    state: "running",
    actual: have([{ state: "exited", hash: "old" }]),
    expect: ["update runtime-start safe state,configHash"],
  },
  {
    name: "one of two replicas stale → recreate",
    state: "running",
    actual: have([{ state: "running" }, { state: "running", hash: "old" }]),
    expect: ["update runtime-start disruptive configHash"],
  },
  { name: "running → removed", state: "removed", actual: have([{ state: "running" }]), expect: ["delete runtime-stop disruptive state"] },
  { name: "exited → removed (restart: always would revive it)", state: "removed", actual: have([{ state: "exited" }]), expect: ["delete runtime-stop safe state"] },
  { name: "removed, no container → nothing", state: "removed", actual: have([]), expect: [] },
  { name: "removed, never observed → nothing", state: "removed", actual: undefined, expect: [] },
  {
    name: "removed, service gone from the files → still removed",
    state: "removed",
    actual: { ...have([{ state: "running" }]), defined: false, expectedHash: undefined },
    expect: ["delete runtime-stop disruptive state"],
  },
];

describe("planServices", () => {
  it.each(rows)("$name", (row) => {
    const d = want(row.state);
    const actual = new Map(row.actual ? [[d.name, row.actual]] : []);
    const changes = planServices([d], actual);
    expect(changes.map((c) => `${c.action} ${c.phase} ${c.risk} ${c.fields.map((f) => f.field).join(",")}`)).toEqual(row.expect);
    for (const c of changes) expect(c.scope).toBe("api");
  });

  it("honours phase overrides", () => {
    const d = want("removed");
    const changes = planServices([d], new Map([[d.name, have([{ state: "running" }])]]), { phases: { remove: "runtime-retire" } });
    expect(changes[0]!.phase).toBe("runtime-retire");
  });

  it("diff shows short hashes", () => {
    expect(diffService(want("running"), have([{ state: "running", hash: "0123456789abcdef" }], "fedcba9876543210"))).toEqual([
      { field: "configHash", from: "0123456789ab", to: "fedcba987654" },
    ]);
  });
});

describe("parseHealth", () => {
  it.each([
    ["Up 3 seconds (healthy)", "healthy"],
    ["Up 3 seconds (unhealthy)", "unhealthy"],
    ["Up 1 second (health: starting)", "starting"],
    ["Up 5 minutes", undefined],
    ["Exited (1) 2 seconds ago", undefined],
  ])("%s → %s", (status, health) => {
    expect(parseHealth(status)).toBe(health);
  });
});
