/** The rows and contexts behind the golden confs in __golden__/ (shared by the unit and sandbox tests). */
import type { RenderContext } from "./render-conf.js";
import type { ProxyHostModel } from "./row.js";

export function host(over: Partial<ProxyHostModel> = {}): ProxyHostModel {
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

export const OLD: RenderContext = { nginxVersion: "1.22.1", ipv6: true };
export const NEW: RenderContext = { nginxVersion: "1.27.4", ipv6: true };
export const LE = { provider: "letsencrypt" };
export const withCert = { certificateId: 3 };

export const GOLDEN_CASES: [string, ProxyHostModel, RenderContext][] = [
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
      locations: [{ path: "/static", forward_scheme: "http", forward_host: "127.0.0.1/assets", forward_port: 8080, advanced_config: "expires 1h;" }],
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

