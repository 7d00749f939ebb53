import { describe, expect, it } from "vitest";
import { containersByService, parseHashes } from "./compose-driver.js";

const row = (o: Partial<Record<string, string>>) =>
  JSON.stringify({ ID: "c1", Names: "p-api-1", State: "running", Status: "Up 3 seconds", Service: "api", ConfigHash: "h1", OneOff: "False", ...o });

describe("compose output parsing", () => {
  it("groups `docker ps` rows by the compose service label, leaving one-off containers out", () => {
    const out = containersByService(
      [
        row({}),
        row({ ID: "c2", Names: "p_api_2", State: "exited", Status: "Exited (0) 2 seconds ago" }), // a v1 name
        row({ ID: "c3", Names: "p-web-1", Service: "web", Status: "Up 1 second (health: starting)" }),
        row({ ID: "c4", Names: "p-api-run-1f2e", OneOff: "True" }),
        "",
      ].join("\n"),
    );
    expect([...out.keys()]).toEqual(["api", "web"]);
    expect(out.get("api")!.map((c) => `${c.id} ${c.state} ${c.configHash}`)).toEqual(["c1 running h1", "c2 exited h1"]);
    expect(out.get("web")![0]).toMatchObject({ name: "p-web-1", health: "starting" });
    expect(containersByService("")).toEqual(new Map());
  });

  it("reads `config --hash` lines of v1 and v2", () => {
    const h = "a".repeat(64);
    expect(parseHashes(`api ${h}\nweb-2 ${"b".repeat(64)}\n`)).toEqual(new Map([["api", h], ["web-2", "b".repeat(64)]]));
    expect(parseHashes("WARNING: something\n\n")).toEqual(new Map());
  });
});
