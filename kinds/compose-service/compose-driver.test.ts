import { describe, expect, it } from "vitest";
import { parseHashes, parseLabels } from "./compose-driver.js";

describe("compose output parsing", () => {
  it("splits docker ps labels, keeping commas inside a value", () => {
    const labels = parseLabels(
      "com.docker.compose.config-hash=abc123,com.docker.compose.project.config_files=/r/a.yml,/r/b.yml,com.docker.compose.service=api,com.docker.compose.oneoff=False",
    );
    expect(labels).toEqual({
      "com.docker.compose.config-hash": "abc123",
      "com.docker.compose.project.config_files": "/r/a.yml,/r/b.yml",
      "com.docker.compose.service": "api",
      "com.docker.compose.oneoff": "False",
    });
    expect(parseLabels("")).toEqual({});
  });

  it("reads `config --hash` lines of v1 and v2", () => {
    const h = "a".repeat(64);
    expect(parseHashes(`api ${h}\nweb-2 ${"b".repeat(64)}\n`)).toEqual(new Map([["api", h], ["web-2", "b".repeat(64)]]));
    expect(parseHashes("WARNING: something\n\n")).toEqual(new Map());
  });
});
