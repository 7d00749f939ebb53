import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { ExecaRunner } from "../core/runner.js";
import { requestFromNpm } from "./fixtures.js";
import { sandbox } from "./sandbox-env.js";

/** A server block shaped like the one NPM renders for a proxy host (facts.md). */
function proxyHostConf(id: number, domain: string, server: string, port: number, extra = ""): string {
  return `# ${domain}
server {
  set $forward_scheme http;
  set $server "${server}";
  set $port ${port};
  listen 80;
  listen [::]:80;
  server_name ${domain};
  ${extra}
  include conf.d/include/assets.conf;
  include conf.d/include/block-exploits.conf;
  proxy_set_header Upgrade $http_upgrade;
  proxy_set_header Connection $http_connection;
  proxy_http_version 1.1;
  access_log /data/logs/proxy-host-${id}_access.log proxy;
  error_log /data/logs/proxy-host-${id}_error.log warn;
  location / {
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $http_connection;
    proxy_http_version 1.1;
    include conf.d/include/proxy.conf;
  }
  include /data/nginx/custom/server_proxy[.]conf;
}
`;
}

describe("sandbox host: the NPM container", () => {
  const host = sandbox({ parts: ["npm"] });
  const run = new ExecaRunner({ defaultTimeoutMs: 60_000 });
  const npm = host.npmContainer ?? "";
  const confDir = join(host.npmData ?? "", "nginx/proxy_host");
  const upstream = "sbx-npm-upstream";

  afterAll(async () => {
    rmSync(join(confDir, "901.conf"), { force: true });
    rmSync(join(confDir, "902.conf"), { force: true });
    await run.run("docker", ["exec", npm, "nginx", "-s", "reload"], { mutates: true }).catch(() => undefined);
    await run.run("docker", ["rm", "-f", upstream], { mutates: true }).catch(() => undefined);
  });

  it("has NPM's database schema with an admin user and the migrations tables", () => {
    const db = new Database(join(host.npmData ?? "", "database.sqlite"), { readonly: true });
    try {
      const cols = (db.prepare("pragma table_info(proxy_host)").all() as { name: string }[]).map((c) => c.name);
      expect(cols).toEqual(expect.arrayContaining(["domain_names", "forward_host", "forward_port", "forward_scheme", "enabled", "meta", "locations", "trust_forwarded_proto"]));
      expect(db.prepare("select id, roles from user").all()).toEqual([{ id: 1, roles: '["admin"]' }]);
      expect((db.prepare("select count(*) n from migrations").get() as { n: number }).n).toBeGreaterThan(10);
    } finally {
      db.close();
    }
  });

  it("serves a proxy_host conf written into its data dir after nginx -t and a reload", async () => {
    await run.run("docker", ["run", "-d", "--name", upstream, "--network", host.npmNetwork ?? "", host.busyboxImage ?? "",
      "sh", "-c", "mkdir -p /srv && echo upstream-ok > /srv/health && exec httpd -f -p 8080 -h /srv"], { mutates: true });

    const before = await requestFromNpm({ host: "app.sandbox.test", path: "/health" });
    expect(before.ok).toBe(false);
    expect(before.status).toBe(404);

    writeFileSync(join(confDir, "901.conf"), proxyHostConf(901, "app.sandbox.test", upstream, 8080));
    await run.run("docker", ["exec", npm, "nginx", "-t"]);
    await run.run("docker", ["exec", npm, "nginx", "-s", "reload"], { mutates: true });

    let after = await requestFromNpm({ host: "app.sandbox.test", path: "/health" });
    for (let i = 0; i < 30 && !after.ok; i++) {
      await new Promise((r) => setTimeout(r, 200));
      after = await requestFromNpm({ host: "app.sandbox.test", path: "/health" });
    }
    expect(after).toMatchObject({ ok: true, status: 200, body: "upstream-ok\n" });
  });

  it("is nginx 1.22 like Debian's: `http2 on;` fails nginx -t", async () => {
    writeFileSync(join(confDir, "902.conf"), proxyHostConf(902, "h2.sandbox.test", upstream, 8080, "http2 on;"));
    const t = await run.run("docker", ["exec", npm, "nginx", "-t"], { okExitCodes: [0, 1] });
    expect(t.exitCode).toBe(1);
    expect(t.stderr).toMatch(/unknown directive "http2"/);
    rmSync(join(confDir, "902.conf"));
  });
});
