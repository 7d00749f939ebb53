import { execa } from "execa";

/**
 * How long a run waited for containers to stop: Docker's own events, not tack's. For each container, from the
 * `kill` event that asked it to stop (SIGTERM, or what the image's stop signal is) to its `die` event; intervals of
 * containers stopping at the same time count once (their union), since that is the wall time a run spends waiting
 * in `docker stop` / `compose stop` / `rm -s`. That wait is the stop grace: what the containers' own shutdown takes,
 * up to Compose's 10 s before SIGKILL — the user's setting, not tack's to shorten.
 */
export interface StopWaits {
  /** Union of the [kill, die] intervals, ms. */
  graceMs: number;
  stops: { container: string; ms: number }[];
}

interface DockerEvent {
  Action?: string;
  status?: string;
  id?: string;
  timeNano?: number;
  Actor?: { Attributes?: Record<string, string> };
}

export async function stopWaits(sinceMs: number, untilMs: number): Promise<StopWaits> {
  const r = await execa("docker", ["events", "--since", (sinceMs / 1000).toFixed(3), "--until", (untilMs / 1000).toFixed(3), "--filter", "type=container", "--format", "{{json .}}"]);
  const events = r.stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as DockerEvent);
  return fromEvents(events);
}

export function fromEvents(events: DockerEvent[]): StopWaits {
  const asked = new Map<string, number>();
  const intervals: { container: string; from: number; to: number }[] = [];
  for (const e of events) {
    const action = e.Action ?? e.status ?? "";
    const id = e.id ?? "";
    const at = (e.timeNano ?? 0) / 1e6;
    // The first kill asks the container to stop; a later one (SIGKILL after the grace) is part of the same wait.
    if (action === "kill" && !asked.has(id)) asked.set(id, at);
    else if (action === "die" && asked.has(id)) {
      intervals.push({ container: e.Actor?.Attributes?.name ?? id.slice(0, 12), from: asked.get(id)!, to: at });
      asked.delete(id);
    }
  }
  let graceMs = 0;
  let end = -Infinity;
  for (const i of [...intervals].sort((a, b) => a.from - b.from)) {
    graceMs += Math.max(0, i.to - Math.max(i.from, end));
    end = Math.max(end, i.to);
  }
  return { graceMs: Math.round(graceMs), stops: intervals.map((i) => ({ container: i.container, ms: Math.round(i.to - i.from) })) };
}
