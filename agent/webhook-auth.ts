import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Who may trigger a fetch through POST /hooks/git: GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
 * the raw body>`, or the generic `X-Tack-Token: <secret>`. Both comparisons are constant-time (a plain `===`
 * leaks how many leading bytes matched).
 */
export interface WebhookHeaders {
  signature256?: string | undefined;
  token?: string | undefined;
}

export type WebhookVerdict = "accepted" | "unauthorized";

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  // timingSafeEqual throws on different lengths; comparing a digest of each keeps the time independent of it.
  const ha = createHmac("sha256", "tack-compare").update(a).digest();
  const hb = createHmac("sha256", "tack-compare").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export function githubSignature(secret: string, body: Buffer | string): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

export function verifyWebhook(secret: string, body: Buffer, headers: WebhookHeaders): WebhookVerdict {
  if (!secret) return "unauthorized";
  if (headers.signature256 !== undefined) {
    const expected = Buffer.from(githubSignature(secret, body));
    return constantTimeEqual(Buffer.from(headers.signature256.trim()), expected) ? "accepted" : "unauthorized";
  }
  if (headers.token !== undefined) {
    return constantTimeEqual(Buffer.from(headers.token.trim()), Buffer.from(secret)) ? "accepted" : "unauthorized";
  }
  return "unauthorized";
}
