import { chmodSync, copyFileSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Runner } from "../../core/runner.js";

/**
 * Images built FROM scratch out of host binaries (no registry is reachable): a root filesystem is laid out
 * in the scratch dir, tarred and `docker import`ed. Equivalent to a Dockerfile `FROM scratch` + COPY.
 */
export const BUSYBOX_IMAGE = "tack-busybox:sandbox";
export const NPM_IMAGE = "tack-npm:sandbox";
/** NPM's nginx and confs with nothing else: no shell, no curl/wget/nc (a slim or hardened NPM image). */
export const NPM_BARE_IMAGE = "tack-npm-bare:sandbox";

const BUSYBOX = "/usr/bin/busybox";
const NPM_CONF_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "npm");
const NGINX_CMD = ["/usr/sbin/nginx", "-g", "daemon off;"];

async function layBusybox(run: Runner, root: string): Promise<void> {
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync(BUSYBOX, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  const applets = (await run.run(BUSYBOX, ["--list"])).stdout.split("\n").filter((a) => a && a !== "busybox");
  for (const a of applets) symlinkSync("busybox", join(root, "bin", a));
  for (const d of ["tmp", "etc", "proc", "sys", "dev", "run", "var/www"]) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
}

async function importImage(run: Runner, root: string, tag: string, cmd: string[]): Promise<void> {
  const tar = `${root}.tar`;
  await run.run("tar", ["-C", root, "-cf", tar, "."], { mutates: true });
  await run.run("docker", ["import", "--change", `CMD ${JSON.stringify(cmd)}`, tar, tag], { mutates: true });
}

export async function buildBusyboxImage(run: Runner, workDir: string): Promise<void> {
  const root = join(workDir, "busybox-rootfs");
  await layBusybox(run, root);
  await importImage(run, root, BUSYBOX_IMAGE, ["/bin/sh"]);
}

/** Debian's nginx and the libraries `ldd` lists, busybox for sh/wget, and the NPM-like confs of ../npm/. */
export async function buildNpmImage(run: Runner, workDir: string): Promise<void> {
  const root = join(workDir, "npm-rootfs");
  await layBusybox(run, root);
  await layNginx(run, root);
  await importImage(run, root, NPM_IMAGE, NGINX_CMD);
}

/**
 * NPM_BARE_IMAGE: the NPM image without busybox, so `docker exec` finds no sh, curl, wget or nc (only nginx).
 * Built on demand by the tests that need it (sandbox/npm-variant.ts), not at every sandbox start.
 */
export async function buildBareNpmImage(run: Runner, workDir: string): Promise<void> {
  const root = join(workDir, "npm-bare-rootfs");
  for (const d of ["tmp", "etc", "proc", "sys", "dev", "run"]) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
  // nginx's `user root;` looks the user up in /etc/passwd (glibc falls back to files without nsswitch.conf).
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  await layNginx(run, root);
  await importImage(run, root, NPM_BARE_IMAGE, NGINX_CMD);
}

/** Debian's nginx, the libraries `ldd` lists, and the NPM-like confs of ../npm/. */
async function layNginx(run: Runner, root: string): Promise<void> {
  const files = ["/usr/sbin/nginx"];
  for (const line of (await run.run("ldd", ["/usr/sbin/nginx"])).stdout.split("\n")) {
    const m = /(\/\S+) \(0x/.exec(line);
    if (m?.[1]) files.push(m[1]);
  }
  for (const f of files) {
    mkdirSync(join(root, dirname(f)), { recursive: true });
    copyFileSync(f, join(root, f)); // copyFileSync follows symlinks: the real library lands at the soname
  }
  mkdirSync(join(root, "etc/nginx"), { recursive: true });
  cpSync(NPM_CONF_DIR, join(root, "etc/nginx"), { recursive: true });
  copyFileSync("/etc/nginx/mime.types", join(root, "etc/nginx/mime.types"));
  for (const d of ["var/log/nginx", "var/lib/nginx/body", "var/lib/nginx/proxy", "var/lib/nginx/cache", "data"]) {
    mkdirSync(join(root, d), { recursive: true });
  }
}
