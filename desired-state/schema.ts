import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { parseDuration } from "./durations.js";

/**
 * The desired-state format, apiVersion tack/v1 (contract: keys; README "Format reference" documents every one).
 * Objects are strict: an unknown key is an error, so a typo never silently means "unmanaged".
 */

// A bare number has no unit (`timeout: 30`): say which string was probably meant instead of "expected string".
const duration = z
  .string({ error: (iss) => (typeof iss.input === "number" ? `must be a duration with a unit, such as "${iss.input}s"` : 'must be a duration such as "30s", "5m" or "1h30m"') })
  .refine((s) => parseDuration(s) !== undefined, { message: 'must be a duration such as "30s", "5m" or "1h30m"' });

const port = z.number().int().min(1).max(65535);

// systemd's unit name grammar (systemd.unit(5)): name[@instance].type, at most 255 characters.
export const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|timer|target|path|mount|slice)$/;
const unitName = z
  .string()
  .max(255)
  .regex(UNIT_NAME, { message: "must be a systemd unit name such as app.service" });

const composeName = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, {
  message: "must be a compose name: lowercase letters, digits, '_', '.', '-'",
});

const hostname = z
  .string()
  .max(253)
  .regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: "must be a lowercase DNS name",
  });

/** A repo-relative path; confinement (no `..`, no symlink out) is checked when the file is read. */
const repoPath = z.string().min(1);

const systemdScope = z.enum(["system", "user"]);

export const healthSchema = z
  .strictObject({
    http: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
    command: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
    expectStatus: z.number().int().min(100).max(599).optional(),
    timeout: duration.optional(),
    interval: duration.optional(),
  })
  .refine((h) => !(h.http && h.command), { message: "give either http or command, not both" });

const secretRef = z.union(
  [z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }), z.strictObject({ file: z.string().min(1) })],
  { error: "must be a secret reference: { env: NAME } or { file: /path } (never the secret itself)" },
);

const scopeSchema = z.strictObject({
  owner: z.enum(["native", "docker", "none"]),
  handoff: z.enum(["exclusive", "overlap"]).default("exclusive"),
  after: z.array(z.string()).default([]),
  native: z
    .strictObject({
      units: z.array(unitName).min(1),
      port: port.optional(),
      systemd: z.strictObject({ scope: systemdScope }).optional(),
      health: healthSchema.optional(),
    })
    .optional(),
  docker: z
    .strictObject({
      services: z.array(composeName).min(1),
      upstream: z.string().min(1).optional(),
      port: port.optional(),
      health: healthSchema.optional(),
    })
    .optional(),
  health: healthSchema.optional(),
});

const proxyHostSchema = z.strictObject({
  domains: z.array(hostname).min(1),
  scope: z.string(),
  forwardScheme: z.enum(["http", "https"]).default("http"),
  websockets: z.boolean().optional(),
  http2: z.boolean().optional(),
  sslForced: z.boolean().optional(),
  hsts: z.boolean().optional(),
  hstsSubdomains: z.boolean().optional(),
  blockExploits: z.boolean().optional(),
  cachingEnabled: z.boolean().optional(),
  certificateId: z.number().int().min(0).optional(),
  accessListId: z.number().int().min(0).optional(),
  advancedConfig: z.string().max(65536).optional(),
  probePath: z.string().startsWith("/").optional(),
  adopt: z.boolean().default(false),
});

const ufwProto = z.enum(["tcp", "udp", "any"]);
const ufwPort = z.union([port, z.string().regex(/^\d{1,5}(:\d{1,5})?$/, { message: 'must be a port or range "6000:6010"' })]);
/** An IPv4/IPv6 address or CIDR, checked the way ufw will (`10.0.0.300/33` passes a regex, not ufw). */
export function isAddressOrCidr(text: string): boolean {
  const [addr = "", prefix, ...rest] = text.split("/");
  if (rest.length) return false;
  const max = isIPv4(addr) ? 32 : isIPv6(addr) ? 128 : 0;
  if (!max) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= max);
}
const ufwAddress = z.string().refine((a) => a === "any" || a === "npm-bridge" || isAddressOrCidr(a), {
  message: "must be any, npm-bridge, or an IPv4/IPv6 address or CIDR (prefix up to /32 or /128)",
});

const ufwRuleSchema = z
  .strictObject({
    allow: ufwProto.optional(),
    deny: ufwProto.optional(),
    reject: ufwProto.optional(),
    limit: ufwProto.optional(),
    port: ufwPort.optional(),
    from: ufwAddress.default("any"),
    to: ufwAddress.default("any"),
    direction: z.enum(["in", "out"]).default("in"),
    comment: z.string().max(200).optional(),
    adopt: z.boolean().default(false),
  })
  .refine((r) => [r.allow, r.deny, r.reject, r.limit].filter((x) => x !== undefined).length === 1, {
    message: "give exactly one of allow, deny, reject, limit (its value is the protocol: tcp, udp or any)",
  });

const dnsRecordSchema = z
  .strictObject({
  name: hostname,
  type: z.enum(["A", "AAAA", "CNAME", "TXT", "MX", "CAA", "SRV", "NS"]),
  content: z.string().min(1),
  ttl: z
    .number()
    .int()
    .refine((v) => v === 1 || (v >= 60 && v <= 86400), { message: "must be 1 (automatic) or 60 to 86400" })
    .optional(),
  proxied: z.boolean().optional(),
  comment: z.string().max(90).optional(),
  adopt: z.boolean().default(false),
  acknowledge: z.array(z.enum(["origin-exposure"])).default([]),
  })
  .superRefine((r, ctx) => {
    // Cloudflare refuses these at apply time; say so at validate time, at the content's line.
    if (r.type === "A" && !isIPv4(r.content)) ctx.addIssue({ code: "custom", path: ["content"], message: "an A record's content must be an IPv4 address such as 203.0.113.10" });
    if (r.type === "AAAA" && !isIPv6(r.content)) ctx.addIssue({ code: "custom", path: ["content"], message: "an AAAA record's content must be an IPv6 address such as 2001:db8::10" });
  });

/** Where secret targets may go unless `secrets.allowedRoots` says otherwise. */
export const DEFAULT_SECRET_ROOTS = ["/etc", "/srv", "/opt", "/var/lib"];

const absolutePath = z
  .string()
  .max(4096)
  .regex(/^\/[^\0]*$/, { message: "must be an absolute path on the host" })
  .refine((p) => !p.split("/").includes(".."), { message: "must not contain '..'" });

const secretFileSchema = z.strictObject({
  source: repoPath.refine((p) => p.endsWith(".age"), { message: "must be an age file (*.age): commit the encrypted file, never the plaintext" }),
  target: absolutePath,
  // A string: YAML 1.2 reads a bare 0600 as the decimal 600.
  mode: z.string().regex(/^0?[0-7]{3}$/, { message: 'must be an octal mode string such as "0600"' }).default("0600"),
  owner: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*[$]?(:[a-z_][a-z0-9_-]*[$]?)?$/, { message: 'must be "user" or "user:group"' })
    .max(65)
    .default("root"),
  scope: z.string().optional(),
});

const secretsSchema = z.strictObject({
  recipients: repoPath,
  allowedRoots: z.array(absolutePath).min(1).default(DEFAULT_SECRET_ROOTS),
  files: z.array(secretFileSchema).default([]),
});

const layerMode = z.enum(["enforce", "observe"]);

export const hostSchema = z.strictObject({
  apiVersion: z.literal("tack/v1"),
  kind: z.literal("Host"),
  metadata: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, { message: "must be a host name" }),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  runtimes: z
    .strictObject({
      native: z
        .strictObject({
          systemd: z.strictObject({
            scope: systemdScope.default("system"),
            unitsDir: repoPath.default("units"),
            // Root reaching this user's manager for user-scope units (the agent runs as root; the units are theirs).
            user: z.string().regex(/^[a-z_][a-z0-9_-]*[$]?$/, { message: "must be a user name such as delta" }).max(32).optional(),
          }),
        })
        .optional(),
      docker: z
        .strictObject({
          compose: z.strictObject({
            project: composeName,
            files: z.array(repoPath).min(1),
            env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
          }),
        })
        .optional(),
    })
    .default({}),
  scopes: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: "scope names are lowercase words with '-'" }), scopeSchema).default({}),
  edge: z
    .strictObject({
      npm: z
        .strictObject({
          dataDir: z.string().startsWith("/", { message: "must be an absolute path on the host" }),
          container: z.string().min(1),
          network: z.string().min(1),
        })
        .optional(),
      proxyHosts: z.array(proxyHostSchema).default([]),
    })
    .optional(),
  firewall: z
    .strictObject({
      ufw: z.strictObject({
        deriveEdgeRules: z.boolean().default(true),
        rules: z.array(ufwRuleSchema).default([]),
      }),
    })
    .optional(),
  dns: z
    .strictObject({
      cloudflare: z.strictObject({
        zone: hostname,
        token: secretRef,
        pollInterval: duration.default("5m"),
      }),
      records: z.array(dnsRecordSchema).default([]),
    })
    .optional(),
  secrets: secretsSchema.optional(),
  policy: z
    .strictObject({
      mode: layerMode.default("enforce"),
      layers: z
        .strictObject({ runtime: layerMode.optional(), edge: layerMode.optional(), firewall: layerMode.optional(), dns: layerMode.optional() })
        .default({}),
      safety: z
        .strictObject({
          maxChangePercent: z.number().min(0).max(100).default(30),
          allowLargeChanges: z.boolean().default(false),
          allowSshLockout: z.boolean().default(false),
        })
        .default({ maxChangePercent: 30, allowLargeChanges: false, allowSshLockout: false }),
      drift: z.strictObject({ interval: duration.default("1m") }).default({ interval: "1m" }),
      // false: what tack created and the desired state no longer names is reported, not removed (per layer too).
      prune: z
        .union([z.boolean(), z.strictObject({ runtime: z.boolean().optional(), edge: z.boolean().optional(), firewall: z.boolean().optional(), dns: z.boolean().optional() })])
        .default(true),
    })
    .default({
      mode: "enforce",
      layers: {},
      safety: { maxChangePercent: 30, allowLargeChanges: false, allowSshLockout: false },
      drift: { interval: "1m" },
      prune: true,
    }),
});

export type HostDoc = z.infer<typeof hostSchema>;
export type ScopeDoc = z.infer<typeof scopeSchema>;
export type HealthDoc = z.infer<typeof healthSchema>;
export type UfwRuleDoc = z.infer<typeof ufwRuleSchema>;
