import Database from "better-sqlite3";

/**
 * An empty Nginx Proxy Manager 2.15 database, as its Knex migrations leave it (facts.md, "Nginx Proxy
 * Manager"): the tables, the migrations bookkeeping and one admin user (id 1, the owner of new rows).
 * `trustForwardedProto: false` gives the proxy_host table of NPM before 2.14, which lacks that column.
 */
export interface NpmDatabaseOptions {
  trustForwardedProto?: boolean;
}

const MIGRATIONS = [
  "20180618015850_initial.js",
  "20180929054513_websockets.js",
  "20181019052346_forward_host.js",
  "20181113041458_http2_support.js",
  "20181213013211_forward_scheme.js",
  "20190104035154_disabled.js",
  "20190215115310_customlocations.js",
  "20190218060101_hsts.js",
  "20190227065017_settings.js",
  "20200410143839_access_list_client.js",
  "20200410143840_access_list_client_fix.js",
  "20201014143841_pass_auth.js",
  "20210210154702_redirection_scheme.js",
  "20210210154703_redirection_status_code.js",
  "20210423103500_stream_domain.js",
  "20211108145214_regenerate_default_host.js",
  "20240427161436_stream_ssl.js",
];
const TRUST_FORWARDED_PROTO_MIGRATION = "20250120000000_trust_forwarded_proto.js";

const common = `id integer not null primary key autoincrement, created_on datetime not null, modified_on datetime not null`;

function schema(trustForwardedProto: boolean): string {
  return `
create table migrations (id integer not null primary key autoincrement, name varchar(255), batch integer, migration_time datetime);
create table migrations_lock ("index" integer not null primary key autoincrement, is_locked integer);
create table auth (${common}, user_id integer not null, type varchar(30) not null, secret varchar(255) not null, meta json not null, is_deleted integer not null default 0);
create table user (${common}, is_deleted integer not null default 0, is_disabled integer not null default 0, email varchar(255) not null, name varchar(255) not null, nickname varchar(255) not null, avatar varchar(255) not null, roles json not null);
create table user_permission (${common}, user_id integer not null, visibility varchar(255) not null, proxy_hosts varchar(255) not null, redirection_hosts varchar(255) not null, dead_hosts varchar(255) not null, streams varchar(255) not null, access_lists varchar(255) not null, certificates varchar(255) not null);
create unique index user_permission_user_id_unique on user_permission (user_id);
create table proxy_host (${common}, owner_user_id integer not null, is_deleted integer not null default 0, domain_names json not null, forward_host varchar(255) not null, forward_port integer not null, access_list_id integer not null default 0, certificate_id integer not null default 0, ssl_forced integer not null default 0, caching_enabled integer not null default 0, block_exploits integer not null default 0, advanced_config text not null default '', meta json not null, allow_websocket_upgrade integer not null default 0, http2_support integer not null default 0, forward_scheme varchar(255) not null default 'http', enabled integer not null default 1, locations json, hsts_enabled integer not null default 0, hsts_subdomains integer not null default 0${trustForwardedProto ? ", trust_forwarded_proto integer not null default 0" : ""});
create table redirection_host (${common}, owner_user_id integer not null, is_deleted integer not null default 0, domain_names json not null, forward_domain_name varchar(255) not null, preserve_path integer not null default 0, certificate_id integer not null default 0, ssl_forced integer not null default 0, block_exploits integer not null default 0, advanced_config text not null default '', meta json not null, http2_support integer not null default 0, enabled integer not null default 1, hsts_enabled integer not null default 0, hsts_subdomains integer not null default 0, forward_scheme varchar(255) not null default '$scheme', forward_http_code integer not null default 302);
create table dead_host (${common}, owner_user_id integer not null, is_deleted integer not null default 0, domain_names json not null, certificate_id integer not null default 0, ssl_forced integer not null default 0, advanced_config text not null default '', meta json not null, http2_support integer not null default 0, enabled integer not null default 1, hsts_enabled integer not null default 0, hsts_subdomains integer not null default 0);
create table stream (${common}, owner_user_id integer not null, is_deleted integer not null default 0, incoming_port integer not null, forwarding_host varchar(255) not null, forwarding_port integer not null, tcp_forwarding integer not null default 0, udp_forwarding integer not null default 0, meta json not null, enabled integer not null default 1, certificate_id integer not null default 0);
create table access_list (${common}, owner_user_id integer not null, is_deleted integer not null default 0, name varchar(255) not null, meta json not null, satisfy_any integer not null default 0, pass_auth integer not null default 1);
create table access_list_auth (${common}, access_list_id integer not null, username varchar(255) not null, password varchar(255) not null, meta json not null);
create table access_list_client (${common}, access_list_id integer not null, address varchar(255) not null, directive varchar(255) not null, meta json not null);
create table certificate (${common}, owner_user_id integer not null, is_deleted integer not null default 0, provider varchar(255) not null, nice_name varchar(255) not null default '', domain_names json not null, expires_on datetime not null, meta json not null);
create table audit_log (${common}, user_id integer not null, object_type varchar(255) not null default '', object_id integer not null default 0, action varchar(255) not null, meta json not null);
create table setting (id varchar(255) not null, name varchar(255) not null, description varchar(255) not null, value varchar(255) not null, meta json not null, primary key (id));
`;
}

/** NPM writes local time as `YYYY-MM-DD HH:MM:SS`. */
export function npmTimestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function createNpmDatabase(path: string, options: NpmDatabaseOptions = {}): void {
  const trust = options.trustForwardedProto ?? true;
  const db = new Database(path);
  try {
    db.exec(schema(trust));
    const now = npmTimestamp();
    const migrated = db.prepare("insert into migrations (name, batch, migration_time) values (?, 1, ?)");
    db.transaction(() => {
      for (const m of trust ? [...MIGRATIONS, TRUST_FORWARDED_PROTO_MIGRATION] : MIGRATIONS) migrated.run(m, now);
      db.prepare("insert into migrations_lock (is_locked) values (0)").run();
      db.prepare(
        "insert into user (id, created_on, modified_on, email, name, nickname, avatar, roles) values (1, ?, ?, 'admin@example.com', 'Administrator', 'Admin', '', '[\"admin\"]')",
      ).run(now, now);
      db.prepare(
        "insert into user_permission (created_on, modified_on, user_id, visibility, proxy_hosts, redirection_hosts, dead_hosts, streams, access_lists, certificates) values (?, ?, 1, 'all', 'manage', 'manage', 'manage', 'manage', 'manage', 'manage')",
      ).run(now, now);
      db.prepare(
        "insert into setting (id, name, description, value, meta) values ('default-site', 'Default Site', 'What to show when Nginx is hit with an unknown Host', 'congratulations', '{}')",
      ).run();
    })();
  } finally {
    db.close();
  }
}
