import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";

/** The machine and the versions of everything the benchmarks drive, for bench/README.md. */
// Even `ansible --version` creates ~/.ansible/tmp: keep it in a temp dir the benchmark removes.
export const ANSIBLE_ENV = { ANSIBLE_HOME: path.join(os.tmpdir(), "tack-bench-ansible"), ANSIBLE_LOCAL_TEMP: path.join(os.tmpdir(), "tack-bench-ansible", "tmp") };

async function firstLine(file: string, args: string[], pick: (out: string) => string | undefined = (o) => o.split("\n")[0]): Promise<string> {
  const r = await execa(file, args, { reject: false, all: true, env: ANSIBLE_ENV });
  return r.exitCode === 0 ? (pick(r.all ?? "") ?? "?").trim() : "not installed";
}

export async function machineInfo() {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "?";
  const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  const info = {
    machine: {
      nproc: Number((await execa("nproc")).stdout.trim()),
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      cpu: model.trim(),
      kernel: `${os.type()} ${os.release()}`,
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    },
    versions: {
      node: process.version,
      tack: pkg.version,
      docker: await firstLine("docker", ["--version"]),
      "docker-compose": await firstLine("docker-compose", ["version", "--short"]),
      nginx: await firstLine("nginx", ["-v"]),
      ufw: await firstLine("ufw", ["--version"]),
      ansible: await firstLine("ansible", ["--version"]),
    },
  };
  await rm(ANSIBLE_ENV.ANSIBLE_HOME, { recursive: true, force: true });
  return info;
}
