import http from "node:http";

/**
 * Constant-rate HTTP load through NPM's published port on this (sandbox) host, routed by Host header.
 * Bounded: it stops by itself after `maxMs` or when stopped, and never sends more than rate × maxMs requests.
 */
export interface LoadSample {
  at: number;
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

export interface LoadRun {
  stop(): Promise<LoadSample[]>;
}

function once(host: string, path: string, port: number, timeoutMs: number): Promise<LoadSample> {
  const at = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers: { Host: host }, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ at, ok: (res.statusCode ?? 0) < 400, status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", (e) => resolve({ at, ok: false, error: e.message }));
  });
}

export function startLoad(o: { host: string; path: string; port?: number; ratePerSecond: number; maxMs: number; timeoutMs?: number }): LoadRun {
  const samples: Promise<LoadSample>[] = [];
  const started = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - started > o.maxMs) return clearInterval(timer);
    samples.push(once(o.host, o.path, o.port ?? 80, o.timeoutMs ?? 2000));
  }, 1000 / o.ratePerSecond);
  return {
    async stop() {
      clearInterval(timer);
      return (await Promise.all(samples)).sort((a, b) => a.at - b.at);
    },
  };
}

/** The span from the first failed request to the first success after the last failure. */
export function unavailability(samples: LoadSample[]): { failed: number; windowMs: number; contiguous: boolean } {
  const failedIdx = samples.map((s, i) => (s.ok ? -1 : i)).filter((i) => i >= 0);
  if (failedIdx.length === 0) return { failed: 0, windowMs: 0, contiguous: true };
  const first = failedIdx[0]!;
  const last = failedIdx.at(-1)!;
  const recovered = samples[last + 1]?.at ?? samples[last]!.at;
  const contiguous = samples.slice(first, last + 1).every((s) => !s.ok);
  return { failed: failedIdx.length, windowMs: recovered - samples[first]!.at, contiguous };
}
