import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../reconciler/core/errors.js";
import {
  checkAdvancedConfig,
  confMatches,
  parseNginxVersion,
  renderProxyHostConf,
  supportsHttp2Directive,
  type RenderContext,
} from "./render-conf.js";
import type { ProxyHostModel } from "./row.js";

const GOLDEN = join(import.meta.dirname, "__golden__");

function host(over: Partial<ProxyHostModel> = {}): ProxyHostModel {
  return {
    id: 7,
    domains: ["api.flow.example.org"],
    forwardScheme: "http",
    forwardHost: "api",
    forwardPort: 4000,
    enabled: true,
    websockets: false,
    http2: false,
    sslForced: false,
    hsts: false,
    hstsSubdomains: false,
    blockExploits: false,
    cachingEnabled: false,
    certificateId: 0,
    accessListId: 0,
    advancedConfig: "",
    trustForwardedProto: false,
    locations: [],
    meta: {},
    ...over,
  };
}

const OLD: RenderContext = { nginxVersion: "1.22.1", ipv6: true };
const NEW: RenderContext = { nginxVersion: "1.27.4", ipv6: true };
const LE = { provider: "letsencrypt" };
const withCert = { certificateId: 3 };

const cases: [string, ProxyHostModel, RenderContext][] = [
  ["plain-new-nginx", host(), NEW],
  ["plain-old-nginx", host(), OLD],
  ["websockets", host({ websockets: true }), NEW],
  ["ssl-forced-letsencrypt", host({ ...withCert, sslForced: true }), { ...NEW, certificate: LE }],
  ["ssl-forced-trust-forwarded-proto", host({ ...withCert, sslForced: true, trustForwardedProto: true }), { ...NEW, certificate: LE }],
  ["ssl-custom-cert-ipv6-off", host({ ...withCert }), { ...NEW, ipv6: false, certificate: { provider: "other" } }],
  ["cert-id-without-certificate-row", host({ ...withCert, sslForced: true, hsts: true }), NEW],
  ["hsts", host({ ...withCert, sslForced: true, hsts: true }), { ...NEW, certificate: LE }],
  ["hsts-subdomains", host({ ...withCert, sslForced: true, hsts: true, hstsSubdomains: true }), { ...NEW, certificate: LE }],
  ["http2-new-nginx", host({ ...withCert, http2: true }), { ...NEW, certificate: LE }],
  ["http2-old-nginx", host({ ...withCert, http2: true }), { ...OLD, certificate: LE }],
  ["http2-old-nginx-ipv6-off", host({ ...withCert, http2: true }), { ...OLD, ipv6: false, certificate: LE }],
  ["caching", host({ cachingEnabled: true }), NEW],
  ["block-exploits", host({ blockExploits: true }), NEW],
  ["advanced-config", host({ advancedConfig: 'client_max_body_size 50m;\nadd_header X-Edge "tack";' }), NEW],
  ["advanced-config-default-location", host({ advancedConfig: "location / {\n  return 204;\n}" }), NEW],
  ["locations-none-multi-domain", host({ domains: ["a.example.org", "b.example.org"], locations: [] }), NEW],
  [
    "custom-location",
    host({
      websockets: true,
      blockExploits: true,
      locations: [{ path: "/static", forward_scheme: "http", forward_host: "files/assets", forward_port: 8080, advanced_config: "expires 1h;" }],
    }),
    NEW,
  ],
  [
    "access-list",
    host({ accessListId: 2 }),
    { ...NEW, accessList: { passAuth: false, satisfyAny: true, authItems: 1, clients: [{ directive: "allow", address: "10.0.0.0/8" }] } },
  ],
  ["all-flags", host({ ...withCert, websockets: true, sslForced: true, hsts: true, hstsSubdomains: true, http2: true, cachingEnabled: true, blockExploits: true, advancedConfig: "proxy_read_timeout 90s;" }), { ...NEW, certificate: LE }],
];

describe("renderProxyHostConf golden files", () => {
  for (const [name, model, ctx] of cases) {
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
