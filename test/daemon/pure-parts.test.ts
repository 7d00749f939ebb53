import { describe, expect, it } from "vitest";
import { FlapDetector } from "../../agent/flap-detector.js";
import { decideRevision, jittered } from "../../agent/revision-policy.js";
import { SingleFlight } from "../../agent/single-flight.js";
import { activeSuspension, makeSuspension, readSuspension, writeSuspension } from "../../agent/suspension.js";
import { githubSignature, verifyWebhook } from "../../agent/webhook-auth.js";
import type { RevisionRow } from "../../run/journal.js";

describe("webhook signatures", () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  it("accepts GitHub's sha256 HMAC of the raw body and the generic token", () => {
    // Vector from `openssl dgst -sha256 -hmac s3cret` over the same bytes.
    expect(githubSignature("s3cret", body)).toBe("sha256=232a5e067b6a5aa567ed5a1d21a0dffaf6ef0eeecb6bd9bcf43b3d5ef3fc4f43");
    expect(verifyWebhook("s3cret", body, { signature256: githubSignature("s3cret", body) })).toBe("accepted");
    expect(verifyWebhook("s3cret", body, { token: "s3cret" })).toBe("accepted");
  });
  it("refuses a wrong secret, a changed body, a truncated signature, a missing header and an empty secret", () => {
    expect(verifyWebhook("s3cret", body, { signature256: githubSignature("other", body) })).toBe("unauthorized");
    expect(verifyWebhook("s3cret", Buffer.from(body.toString() + " "), { signature256: githubSignature("s3cret", body) })).toBe("unauthorized");
    expect(verifyWebhook("s3cret", body, { signature256: githubSignature("s3cret", body).slice(0, 20) })).toBe("unauthorized");
    expect(verifyWebhook("s3cret", body, { token: "s3cre" })).toBe("unauthorized");
    expect(verifyWebhook("s3cret", body, {})).toBe("unauthorized");
    expect(verifyWebhook("", body, { token: "" })).toBe("unauthorized");
  });
  it("a sha1 header value is not taken for sha256", () => {
    expect(verifyWebhook("s3cret", body, { signature256: githubSignature("s3cret", body).replace("sha256=", "sha1=") })).toBe("unauthorized");
  });
});

describe("coalescing triggers (single flight)", () => {
  it("never runs two at once, and a burst during a run yields one more run with every reason merged", async () => {
    let active = 0;
    let maxActive = 0;
    const seen: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const f = new SingleFlight<string>(async (reasons) => {
      active++;
      maxActive = Math.max(maxActive, active);
      seen.push([...reasons].sort());
      if (seen.length === 1) await gate;
      active--;
    });
    const first = f.trigger("start");
    const burst = Array.from({ length: 10 }, (_, i) => f.trigger(i % 2 ? "webhook" : "poll"));
    release();
    await Promise.all([first, ...burst]);
    expect(maxActive).toBe(1);
    expect(f.runs).toBe(2);
    expect(seen).toEqual([["start"], ["poll", "webhook"]]);
  });
  it("keeps going after a failed run and reports the error", async () => {
    const errors: unknown[] = [];
    let n = 0;
    const f = new SingleFlight<string>(async () => {
      if (n++ === 0) throw new Error("boom");
    }, (e) => errors.push(e));
    await f.trigger("a");
    await f.trigger("b");
    expect(errors).toHaveLength(1);
    expect(f.runs).toBe(2);
  });
  it("close waits for the current run and takes no more triggers", async () => {
    let runs = 0;
    const f = new SingleFlight<string>(async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 30));
    });
    void f.trigger("a");
    void f.trigger("b");
    await f.close();
    expect(f.busy).toBe(false);
    await f.trigger("c");
    expect(runs).toBe(1);
  });
});

describe("flap detection", () => {
  it("a resource corrected N times within the window is no longer corrected, and recovers after a quiet window", () => {
    const d = new FlapDetector({ limit: 3, windowMs: 10_000 });
    const ref = "npm.proxyHost/api.example.org";
    expect(d.isFlapping(ref, 0)).toBe(false);
    d.recordCorrection(ref, 0);
    d.recordCorrection(ref, 1000);
    expect(d.isFlapping(ref, 2000)).toBe(false);
    d.recordCorrection(ref, 2000);
    expect(d.isFlapping(ref, 3000)).toBe(true);
    expect(d.flapping(3000)).toEqual([{ ref, corrections: 3, since: new Date(0).toISOString() }]);
    expect(d.isFlapping("ufw.rule/22", 3000)).toBe(false);
    expect(d.isFlapping(ref, 10_500)).toBe(false); // the first correction left the window
    expect(d.flapping(13_000)).toEqual([]);
  });
  it("corrections spread wider than the window never flap", () => {
    const d = new FlapDetector({ limit: 3, windowMs: 1000 });
    for (let t = 0; t < 10_000; t += 600) {
      expect(d.isFlapping("x/y", t)).toBe(false);
      d.recordCorrection("x/y", t);
    }
  });
});

describe("suspension", () => {
  const kv = () => {
    const m = new Map<string, string>();
    return { get: (k: string) => m.get(k), set: (k: string, v: string | undefined) => (v === undefined ? m.delete(k) : m.set(k, v)) };
  };
  it("lasts --for, then expires by itself", () => {
    const s = makeSuspension("2h", "hotfix by hand", "ops@vps-1", 0);
    expect(s.until).toBe(new Date(2 * 3_600_000).toISOString());
    expect(activeSuspension(s, 3_600_000)).toEqual(s);
    expect(activeSuspension(s, 2 * 3_600_000)).toBeUndefined();
  });
  it("persists in the kv store and reads back as none once expired or removed", () => {
    const store = kv();
    writeSuspension(store, makeSuspension("30m", "why", "me", 1000));
    expect(readSuspension(store, 2000)?.reason).toBe("why");
    expect(readSuspension(store, 1000 + 30 * 60_000)).toBeUndefined();
    writeSuspension(store, undefined);
    expect(readSuspension(store, 2000)).toBeUndefined();
    store.set("daemon:suspension", "{not json");
    expect(readSuspension(store, 2000)).toBeUndefined();
  });
  it("refuses a bad duration and an empty reason", () => {
    expect(() => makeSuspension("soon", "r", "me")).toThrow(/not a duration/);
    expect(() => makeSuspension("0s", "r", "me")).toThrow(/must last longer than 0s/);
    expect(() => makeSuspension("1h", "  ", "me")).toThrow(/--reason/);
  });
});

describe("what to do with the branch head", () => {
  const row = (status: RevisionRow["status"], message?: string): RevisionRow => ({ revision: "h", status, at: "", message: message ?? null, attempts: 1 });
  const base = { head: "new", headRow: undefined, lastGood: "old", descends: true, allowRewind: false };
  it("applies a new revision that descends from the applied one", () => {
    expect(decideRevision(base)).toEqual({ action: "apply", revision: "new" });
    expect(decideRevision({ ...base, lastGood: undefined, descends: undefined })).toEqual({ action: "apply", revision: "new" });
  });
  it("refuses a rewound or force-pushed branch unless allowed, keeping the applied revision", () => {
    const d = decideRevision({ ...base, descends: false });
    expect(d).toMatchObject({ action: "hold", revision: "old" });
    expect(d.action === "hold" && d.reason).toMatch(/does not descend .* --allow-rewind/);
    expect(decideRevision({ ...base, descends: false, allowRewind: true })).toEqual({ action: "apply", revision: "new" });
  });
  it("does not retry an invalid or failed revision: heals toward the last good one", () => {
    expect(decideRevision({ ...base, headRow: row("invalid", "tack.yaml:3:1 bad") })).toEqual({ action: "heal", revision: "old" });
    expect(decideRevision({ ...base, headRow: row("failed") })).toEqual({ action: "heal", revision: "old" });
    expect(decideRevision({ ...base, headRow: row("failed"), lastGood: undefined })).toMatchObject({ action: "hold", revision: undefined });
  });
  it("keeps a good head converged, and holds an unsigned commit", () => {
    expect(decideRevision({ ...base, head: "old", headRow: row("good") })).toEqual({ action: "heal", revision: "old" });
    expect(decideRevision({ ...base, signature: { ok: false, detail: "no signature" } })).toMatchObject({ action: "hold", revision: "old" });
    expect(decideRevision({ ...base, signature: { ok: true, detail: "good" } })).toEqual({ action: "apply", revision: "new" });
  });
  it("jitters the poll interval by ±10%", () => {
    expect(jittered(30_000, 0)).toBe(27_000);
    expect(jittered(30_000, 1)).toBe(33_000);
    expect(jittered(30_000, 0.5)).toBe(30_000);
  });
});
