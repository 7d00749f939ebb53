import { describe, expect, it } from "vitest";
import { renderStatus } from "./status.js";

describe("tack status, rendered", () => {
  it("names the Compose in use, flavor and version, when the agent reports one", () => {
    const lines: string[] = [];
    const o = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    renderStatus({ agent: "running", compose: { flavor: "v2", version: "2.26.1-4" } }, o);
    renderStatus({ agent: "running", compose: { flavor: "v1", version: "1.29.2" } }, o);
    renderStatus({ agent: "not running" }, o);
    expect(lines.filter((l) => l.startsWith("compose:"))).toEqual(["compose:          v2 2.26.1-4 (docker compose)", "compose:          v1 1.29.2 (docker-compose)"]);
  });
});
