import { existsSync } from "node:fs";
import { join } from "node:path";
import { ExecaRunner, type Runner } from "../core/runner.js";
import { FatalWait, waitFor } from "./host/daemon.js";
import { buildBareNpmImage, NPM_BARE_IMAGE, NPM_IMAGE } from "./host/images.js";
import { createNpmDataDir, NPM_NETWORK } from "./host/npm-part.js";
import { sandbox } from "./sandbox-env.js";

/**
 * A second NPM stand-in beside the sandbox's own, for tests of what differs between NPM installs: the image
 * (`bare`: nginx alone, no shell and no HTTP client; `standard`: the sandbox NPM image, with busybox) and the
 * ports it publishes (none, or e.g. "8081:80"). It has its own data dir and database, and sits on npm_default
 * so it reaches the same upstreams.
 */
export interface NpmVariantOptions {
  name: string;
  image: "bare" | "standard";
  /** `docker run -p` values; none: nothing published (the probe then has to go inside the container). */
  publish?: string[];
}

export interface NpmVariant {
  container: string;
  /** Host dir mounted at /data: database.sqlite, nginx/proxy_host/, logs/. */
  data: string;
}

let bareImage: Promise<void> | undefined;

export async function startNpmVariant(o: NpmVariantOptions, run: Runner = new ExecaRunner({ defaultTimeoutMs: 60_000 })): Promise<NpmVariant> {
  const sb = sandbox({ parts: ["npm"] });
  const image = o.image === "bare" ? NPM_BARE_IMAGE : NPM_IMAGE;
  if (o.image === "bare") {
    // Once per process: variants started together must not lay out the same rootfs at the same time.
    bareImage ??= (async () => {
      const present = await run.run("docker", ["image", "inspect", image], { okExitCodes: [0, 1] });
      if (present.exitCode !== 0) await buildBareNpmImage(run, join(sb.dir, "images"));
    })();
    await bareImage;
  }
  const dir = join(sb.dir, `npm-variant-${o.name}`);
  if (existsSync(dir)) throw new Error(`an NPM variant named ${o.name} was started already in this sandbox`);
  const data = createNpmDataDir(join(dir, "data"));
  const ports = (o.publish ?? []).flatMap((p) => ["-p", p]);
  await run.run("docker", ["run", "-d", "--name", o.name, "--network", sb.npmNetwork ?? NPM_NETWORK, ...ports, "-v", `${data}:/data`, image], { mutates: true });
  try {
    // nginx is the one program every variant has: `-s reopen` succeeds once the master wrote its pid file.
    await waitFor(`nginx in ${o.name}`, async () => {
      const state = await run.run("docker", ["inspect", "-f", "{{.State.Running}}", o.name]);
      if (state.stdout.trim() !== "true") throw new FatalWait(`${o.name} exited`);
      const r = await run.run("docker", ["exec", o.name, "nginx", "-s", "reopen"], { okExitCodes: [0, 1] });
      return r.exitCode === 0;
    }, 20_000);
  } catch (e) {
    const logs = await run.run("docker", ["logs", "--tail", "20", o.name], { okExitCodes: [0, 1] }).catch(() => undefined);
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${logs?.stdout ?? ""}${logs?.stderr ?? ""}`, { cause: e });
  }
  return { container: o.name, data };
}
