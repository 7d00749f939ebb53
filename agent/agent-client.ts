import type { Journal } from "../run/journal.js";

/**
 * How `tack status|suspend|resume|rollback` reach a running agent: the URL it published in the state DB (kv
 * `daemon:url`) or the one given. No agent answering means the caller falls back to the state DB.
 */
export const DEFAULT_LISTEN = "127.0.0.1:9469";

export function agentUrl(journal: Pick<Journal, "get">, listen: string | undefined): string {
  if (listen) return listen.startsWith("http") ? listen : `http://${listen}`;
  return journal.get("daemon:url") ?? `http://${DEFAULT_LISTEN}`;
}

/** undefined when no agent answers (connection refused, timeout). */
export async function callAgent(
  url: string,
  route: string,
  init: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const res = await fetch(url + route, {
      method: init.method ?? "GET",
      ...(init.body !== undefined ? { body: JSON.stringify(init.body), headers: { "content-type": "application/json" } } : {}),
      signal: AbortSignal.timeout(init.timeoutMs ?? 5000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // plain text answer
    }
    return { status: res.status, body };
  } catch {
    return undefined;
  }
}
