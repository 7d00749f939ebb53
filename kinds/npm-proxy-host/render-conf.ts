/**
 * Renders `/data/nginx/proxy_host/<id>.conf` for a row the way NPM 2.15's templates do
 * (backend/templates/proxy_host.conf and its partials), token for token; only blank lines and
 * indentation differ, and `confMatches` compares confs with whitespace normalised, so a conf NPM wrote
 * itself matches. Where the output deliberately differs from NPM's, a comment here says why and the
 * golden files' NOTES.md lists it. Pure: no I/O.
 */
import { UserError } from "../../core/errors.js";
import type { ProxyHostLocation, ProxyHostModel } from "./row.js";

export interface AccessListView {
  passAuth: boolean;
  satisfyAny: boolean;
  /** Number of basic-auth users (access_list_auth rows). */
  authItems: number;
  clients: { directive: string; address: string }[];
}

export interface RenderContext {
  /** `nginx -v` of the NPM container, e.g. "1.22.1". */
  nginxVersion: string;
  /** NPM renders `listen [::]:80;` unless DISABLE_IPV6 is set in its container. */
  ipv6: boolean;
  /** The joined certificate row; NPM renders TLS only when it exists and certificate_id > 0. */
  certificate?: { provider: string };
  /** The joined access list, when access_list_id > 0. */
  accessList?: AccessListView;
}

/** `http2 on|off;` exists only from nginx 1.25.1; older nginx rejects it as an unknown directive. */
export function supportsHttp2Directive(nginxVersion: string): boolean {
  const [major = 0, minor = 0, patch = 0] = nginxVersion.split(".").map((n) => Number.parseInt(n, 10) || 0);
  return major > 1 || (major === 1 && (minor > 25 || (minor === 25 && patch >= 1)));
}

/** Parses `nginx version: nginx/1.22.1` (what `nginx -v` prints on stderr). */
export function parseNginxVersion(output: string): string | undefined {
  return /nginx\/(\d+\.\d+(?:\.\d+)?)/.exec(output)?.[1];
}

/**
 * advanced_config is pasted verbatim inside the server block: refuse anything that could close that block
 * (a `}` at depth 0) or leave a block open. Quotes and comments are skipped as nginx's tokenizer does;
 * `nginx -t` stays the last line of defence.
 */
export function checkAdvancedConfig(domain: string, text: string, what = "advancedConfig"): void {
  let depth = 0;
  let quote: string | undefined;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "#") {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "\\") i++;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth < 0) {
        throw new UserError(
          `proxy host ${domain}: ${what} line ${line} has a "}" that would close the server block`,
        );
      }
    }
  }
  if (quote) throw new UserError(`proxy host ${domain}: ${what} has an unterminated ${quote} quote`);
  if (depth > 0) throw new UserError(`proxy host ${domain}: ${what} leaves ${depth} block(s) unclosed`);
}

/** NPM skips its default `location /` when the advanced config has one (advancedConfigHasDefaultLocation). */
export function advancedConfigHasDefaultLocation(text: string): boolean {
  return /^(?:.*;)?\s*?location\s*?\/\s*?{/im.test(text);
}

/** Collapses whitespace so confs compare by tokens, not layout: NPM's Liquid output has ragged blank lines. */
export function normalizeConf(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trim().replace(/\s+/g, " "))
    .filter((l) => l !== "")
    .join("\n");
}

export function confMatches(onDisk: string, rendered: string): boolean {
  return normalizeConf(onDisk) === normalizeConf(rendered);
}

interface Flags {
  id?: number;
  certificateId: number;
  sslForced: boolean;
  hsts: boolean;
  hstsSubdomains: boolean;
  blockExploits: boolean;
  cachingEnabled: boolean;
  websockets: boolean;
  accessListId: number;
  trustForwardedProto: boolean;
}

function hasCert(f: Flags, ctx: RenderContext): boolean {
  return ctx.certificate !== undefined && f.certificateId > 0;
}

function accessLines(f: Flags, ctx: RenderContext, indent: string): string[] {
  const al = ctx.accessList;
  if (f.accessListId <= 0 || !al) return [];
  const out: string[] = [];
  if (al.authItems > 0) {
    out.push("# Authorization", 'auth_basic            "Authorization required";');
    out.push(`auth_basic_user_file  /data/access/${f.accessListId};`);
    if (!al.passAuth) out.push('proxy_set_header Authorization "";');
  }
  if (al.clients.length > 0) {
    out.push(`# Access Rules: ${al.clients.length} total`);
    for (const c of al.clients) if (c.directive && c.address) out.push(`${c.directive} ${c.address};`);
    out.push("deny all;");
  }
  out.push("# Access checks must...", al.satisfyAny ? "satisfy any;" : "satisfy all;");
  return out.map((l) => indent + l);
}

function assetLines(f: Flags, indent: string): string[] {
  return f.cachingEnabled ? [`${indent}# Asset Caching`, `${indent}include conf.d/include/assets.conf;`] : [];
}

function exploitLines(f: Flags, indent: string): string[] {
  return f.blockExploits ? [`${indent}# Block Exploits`, `${indent}include conf.d/include/block-exploits.conf;`] : [];
}

function hstsLines(f: Flags, ctx: RenderContext, indent: string): string[] {
  if (!hasCert(f, ctx) || !f.sslForced || !f.hsts) return [];
  return [
    `${indent}# HSTS (ngx_http_headers_module is required) (63072000 seconds = 2 years)`,
    `${indent}add_header Strict-Transport-Security $hsts_header always;`,
  ];
}

function forcedSslLines(f: Flags, ctx: RenderContext, indent: string): string[] {
  if (!hasCert(f, ctx) || !f.sslForced) return [];
  return [
    `${indent}# Force SSL`,
    `${indent}set $trust_forwarded_proto "${f.trustForwardedProto ? "T" : "F"}";`,
    `${indent}include conf.d/include/force-ssl.conf;`,
  ];
}

function websocketLines(f: Flags, indent: string): string[] {
  if (!f.websockets) return [];
  return [
    `${indent}proxy_set_header Upgrade $http_upgrade;`,
    `${indent}proxy_set_header Connection $http_connection;`,
    `${indent}proxy_http_version 1.1;`,
  ];
}

function locationBlock(host: ProxyHostModel, loc: ProxyHostLocation, ctx: RenderContext): string[] {
  // NPM splits "host/path" into forward_host and forward_path (renderLocations).
  let forwardHost = loc.forward_host;
  let forwardPath = loc.forward_path ?? "";
  const slash = forwardHost.indexOf("/");
  if (slash > -1) {
    forwardPath = forwardHost.slice(slash);
    forwardHost = forwardHost.slice(0, slash);
  }
  // NPM copies the host's flags into each location but not trust_forwarded_proto, so it renders "F" there.
  const f: Flags = { ...host, trustForwardedProto: false };
  const out = [`  location ${loc.path} {`];
  if (loc.advanced_config) out.push(...loc.advanced_config.split("\n").map((l) => `    ${l}`));
  out.push(
    "    proxy_set_header Host $host;",
    "    proxy_set_header X-Forwarded-Scheme $scheme;",
    "    proxy_set_header X-Forwarded-Proto  $scheme;",
    "    proxy_set_header X-Forwarded-For    $remote_addr;",
    "    proxy_set_header X-Real-IP          $remote_addr;",
    `    proxy_pass       ${loc.forward_scheme}://${forwardHost}:${loc.forward_port}${forwardPath};`,
    ...accessLines(f, ctx, "    "),
    ...assetLines(f, "    "),
    ...exploitLines(f, "    "),
    ...forcedSslLines(f, ctx, "    "),
    ...hstsLines(f, ctx, "    "),
    ...websocketLines(f, "    "),
    "  }",
  );
  return out;
}

/** The file header and `_hsts_map.conf`. */
function headerLines(host: ProxyHostModel): string[] {
  return [
    "# ------------------------------------------------------------",
    `# ${host.domains.join(", ")}`,
    "# ------------------------------------------------------------",
    "",
    "map $scheme $hsts_header {",
    // Liquid's `-%}` in _hsts_map.conf eats the space before includeSubDomains; kept so NPM's confs match.
    `    https   "max-age=63072000;${host.hstsSubdomains ? "includeSubDomains;" : ""} preload";`,
    "}",
    "",
  ];
}

/** The upstream variables, `_listen.conf` and server_name (with `http2 on|off;` on nginx ≥ 1.25.1). */
function listenLines(host: ProxyHostModel, ctx: RenderContext): string[] {
  const newNginx = supportsHttp2Directive(ctx.nginxVersion);
  // Before nginx 1.25.1 HTTP/2 is a listen parameter (what NPM < 2.12.2 rendered); `http2 on|off;` is unknown.
  const h2listen = !newNginx && host.http2 ? " http2" : "";
  const out = [
    `  set $forward_scheme ${host.forwardScheme};`,
    `  set $server         "${host.forwardHost}";`,
    `  set $port           ${host.forwardPort};`,
    "",
    "  listen 80;",
    ctx.ipv6 ? "  listen [::]:80;" : "  #listen [::]:80;",
  ];
  if (hasCert(host, ctx)) {
    out.push(`  listen 443 ssl${h2listen};`);
    out.push(ctx.ipv6 ? `  listen [::]:443 ssl${h2listen};` : "  #listen [::]:443;");
  }
  out.push(`  server_name ${host.domains.join(" ")};`);
  if (newNginx) out.push(host.http2 ? "  http2 on;" : "  http2 off;");
  return out;
}

/** `_certificates.conf`: Let's Encrypt or custom certificate paths. */
function certificateLines(host: ProxyHostModel, ctx: RenderContext): string[] {
  if (!hasCert(host, ctx)) return [];
  const id = host.certificateId;
  if (ctx.certificate?.provider === "letsencrypt") {
    return [
      "  # Let's Encrypt SSL",
      "  include conf.d/include/letsencrypt-acme-challenge.conf;",
      "  include conf.d/include/ssl-cache.conf;",
      "  include conf.d/include/ssl-ciphers.conf;",
      `  ssl_certificate /etc/letsencrypt/live/npm-${id}/fullchain.pem;`,
      `  ssl_certificate_key /etc/letsencrypt/live/npm-${id}/privkey.pem;`,
    ];
  }
  return [
    "  # Custom SSL",
    `  ssl_certificate /data/custom_ssl/npm-${id}/fullchain.pem;`,
    `  ssl_certificate_key /data/custom_ssl/npm-${id}/privkey.pem;`,
  ];
}

/** The server-level partials (assets, exploits, HSTS, forced SSL, websockets) and the log files. */
function serverOptionLines(host: ProxyHostModel, ctx: RenderContext): string[] {
  return [
    ...assetLines(host, "  "),
    ...exploitLines(host, "  "),
    ...hstsLines(host, ctx, "  "),
    ...forcedSslLines(host, ctx, "  "),
    ...websocketLines(host, ""),
    "",
    `  access_log /data/logs/proxy-host-${host.id}_access.log proxy;`,
    `  error_log /data/logs/proxy-host-${host.id}_error.log warn;`,
    "",
  ];
}

/** NPM's own `location /`, unless the advanced config or a custom location already serves `/`. */
function defaultLocationLines(host: ProxyHostModel, ctx: RenderContext): string[] {
  if (advancedConfigHasDefaultLocation(host.advancedConfig) || host.locations.some((l) => l.path === "/")) return [];
  return [
    "  location / {",
    ...accessLines(host, ctx, "    "),
    ...hstsLines(host, ctx, "    "),
    ...websocketLines(host, "    "),
    "    # Proxy!",
    "    include conf.d/include/proxy.conf;",
    "  }",
    "",
  ];
}

/**
 * The conf NPM would write for this row, or `undefined` for a disabled row (NPM removes its conf).
 * Throws UserError when advanced_config could break out of the server block.
 * Reads top to bottom like NPM's proxy_host.conf: header, server head, certificates, options, advanced config,
 * custom locations, default location, custom include.
 */
export function renderProxyHostConf(host: ProxyHostModel, ctx: RenderContext): string | undefined {
  if (!host.enabled) return undefined;
  const domain = host.domains[0] ?? `#${host.id}`;
  checkAdvancedConfig(domain, host.advancedConfig);
  for (const loc of host.locations) {
    if (loc.advanced_config) checkAdvancedConfig(domain, loc.advanced_config, `location ${loc.path} advanced_config`);
  }
  return [
    ...headerLines(host),
    "server {",
    ...listenLines(host, ctx),
    ...certificateLines(host, ctx),
    ...serverOptionLines(host, ctx),
    ...(host.advancedConfig ? [host.advancedConfig, ""] : []),
    ...host.locations.flatMap((loc) => [...locationBlock(host, loc, ctx), ""]),
    ...defaultLocationLines(host, ctx),
    "  # Custom",
    "  include /data/nginx/custom/server_proxy[.]conf;",
    "}",
    "",
  ].join("\n");
}
