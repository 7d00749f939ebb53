import { readFileSync, statSync } from "node:fs";

/** Shorter than this, a shared secret is refused (brute-forcing an HMAC key must stay out of reach). */
export const MIN_SECRET_LENGTH = 16;

/**
 * A secret kept in a file, read when needed and cached by the file's mtime and size: the file may be written after
 * the agent started (an age secret's target, on the first converge) or rotated later. Undefined while it is missing,
 * unreadable or too short; the value is never logged.
 */
export function fileSecret(file: string): () => string | undefined {
  let cached: { key: string; value: string | undefined } | undefined;
  return () => {
    let key: string;
    try {
      const st = statSync(file);
      key = `${st.mtimeMs}:${st.size}`;
    } catch {
      return undefined;
    }
    if (cached?.key !== key) {
      let value: string | undefined;
      try {
        value = readFileSync(file, "utf8").trim();
      } catch {
        value = undefined;
      }
      cached = { key, value: value && value.length >= MIN_SECRET_LENGTH ? value : undefined };
    }
    return cached.value;
  };
}
