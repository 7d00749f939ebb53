import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../core/errors.js";
import {
  checkAdvancedConfig,
  confMatches,
  parseNginxVersion,
  renderProxyHostConf,
  supportsHttp2Directive,
} from "./render-conf.js";
import { GOLDEN_CASES, host, LE, NEW, OLD, withCert } from "./golden-cases.js";

const GOLDEN = join(import.meta.dirname, "__golden__");

describe("renderProxyHostConf golden files", () => {
  for (const [name, model, ctx] of GOLDEN_CASES) {
    it(name, () => {
      const text = renderProxyHostConf(model, ctx)!;
      const file = join(GOLDEN, `${name}.conf`);
      if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, text);
      expect(text).toBe(readFileSync(file, "utf8"));
    });
  }
});

describe("renderProxyHostConf", () => {
  it("renders nothing for a disabled row (NPM removes its conf)", () => {
    expect(renderProxyHostConf(host({ enabled: false }), NEW)).toBeUndefined();
  });

  it("never emits the http2 directive for nginx < 1.25.1", () => {
    const text = renderProxyHostConf(host({ ...withCert, http2: true }), { ...OLD, certificate: LE })!;
    expect(text).not.toMatch(/^\s*http2 (on|off);/m);
    expect(text).toContain("listen 443 ssl http2;");
    expect(renderProxyHostConf(host({ http2: false }), NEW)).toContain("http2 off;");
  });

  it("puts the upstream in $server (NPM resolves it per request)", () => {
    const text = renderProxyHostConf(host({ forwardHost: "172.18.0.1", forwardPort: 4000 }), NEW)!;
    expect(text).toContain('set $server         "172.18.0.1";');
    expect(text).toContain("set $port           4000;");
  });

  it("refuses an advanced config that closes the server block, naming the domain", () => {
    expect(() => renderProxyHostConf(host({ advancedConfig: "}\nserver { listen 81;" }), NEW)).toThrow(UserError);
    expect(() => checkAdvancedConfig("api.flow.example.org", "} server {")).toThrow(/api\.flow\.example\.org.*close the server block/);
    expect(() => checkAdvancedConfig("x.org", "location /a {")).toThrow(/unclosed/);
    expect(() => checkAdvancedConfig("x.org", 'add_header X "}";')).not.toThrow();
    expect(() => checkAdvancedConfig("x.org", "# } comment only\nlocation /a { return 204; }")).not.toThrow();
  });

  it("compares confs by tokens, so NPM's ragged Liquid whitespace still matches", () => {
    const text = renderProxyHostConf(host(), NEW)!;
    const ragged = text.replace(/\n/g, "\n\n   ").replace(/ {2}/g, "\t");
    expect(confMatches(ragged, text)).toBe(true);
    expect(confMatches(text.replace('"api"', '"other"'), text)).toBe(false);
  });

  it("reads versions from nginx -v", () => {
    expect(parseNginxVersion("nginx version: nginx/1.22.1\n")).toBe("1.22.1");
    expect(supportsHttp2Directive("1.25.1")).toBe(true);
    expect(supportsHttp2Directive("1.25.0")).toBe(false);
    expect(supportsHttp2Directive("1.24.9")).toBe(false);
    expect(supportsHttp2Directive("2.0")).toBe(true);
  });
});
