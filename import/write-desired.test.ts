import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { renderDesired, type DesiredDraft } from "./write-desired.js";

const draft: DesiredDraft = {
  host: "vps-1",
  header: ["Imported by tack import."],
  systemd: { scope: "user" },
  compose: { project: "shop", files: ["compose/docker-compose.yml"], notes: ["copied from /srv/shop"] },
  scopes: [{ name: "api", owner: "native", native: { units: ["api.service"], port: 4100 }, notes: ["api.service runs but is not enabled"] }],
  skippedRuntimes: [{ entry: { service: "cron" }, reason: "compose service cron: not running" }],
  npm: {
    dataDir: "/srv/npm/data", container: "npm", network: "npm_default",
    proxyHosts: [{ entry: { domains: ["api.example.org"], scope: "api", advancedConfig: "a 1;\nb 2;", adopt: true }, notes: ["NPM row #2"] }],
    skipped: [{ entry: { domains: ["old.example.net"], forwardHost: "10.0.0.9", forwardPort: 80 }, reason: "row #3 forwards elsewhere" }],
  },
  ufw: { rules: [{ entry: { allow: "tcp", port: 22, adopt: true }, notes: [] }], skipped: [], notes: [] },
  dns: { zone: "example.org", tokenEnv: "CF_TOKEN", records: [], skipped: [{ entry: { name: "_dmarc.example.org", type: "TXT", content: "v=DMARC1" }, reason: "underscore" }] },
};

describe("renderDesired", () => {
  it("writes the Host with every note as a comment beside its entry and what was left out commented out", () => {
    const text = renderDesired(draft);
    expect(text.startsWith("# Imported by tack import.\n")).toBe(true);
    expect(text).toContain("  # api.service runs but is not enabled\n  api:\n");
    expect(text).toContain("      # copied from /srv/shop\n      project: shop\n");
    expect(text).toContain("    # NPM row #2\n    - domains:");
    expect(text).toContain("    # not imported (NPM proxy hosts):\n    #   row #3 forwards elsewhere\n    #   - { domains: [ old.example.net ], forwardHost: 10.0.0.9, forwardPort: 80 }\n");
    expect(text).toContain("      - { allow: tcp, port: 22, adopt: true }\n");
    expect(text).toContain("    # The token stays in the agent's environment (CF_TOKEN), never in the repo.\n    token:\n      env: CF_TOKEN\n");
    expect(parse(text)).toEqual({
      apiVersion: "tack/v1",
      kind: "Host",
      metadata: { name: "vps-1" },
      runtimes: { native: { systemd: { scope: "user" } }, docker: { compose: { project: "shop", files: ["compose/docker-compose.yml"] } } },
      scopes: { api: { owner: "native", native: { units: ["api.service"], port: 4100 } } },
      edge: { npm: { dataDir: "/srv/npm/data", container: "npm", network: "npm_default" }, proxyHosts: [{ domains: ["api.example.org"], scope: "api", advancedConfig: "a 1;\nb 2;", adopt: true }] },
      firewall: { ufw: { deriveEdgeRules: false, rules: [{ allow: "tcp", port: 22, adopt: true }] } },
      dns: { cloudflare: { zone: "example.org", token: { env: "CF_TOKEN" } }, records: [] },
    });
  });
});
