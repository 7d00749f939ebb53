import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningDaemon } from "../../agent/daemon.js";
import { daemonHost, waitFor, type DaemonHost } from "./daemon-host.js";
import { launchChromium, type Browser } from "./status-page-browser.js";

/**
 * The status page in a real headless Chromium, against a real agent on the sandbox host: owners change live
 * (SSE, no reload) during a cutover; an invalid revision shows its findings; a suspension shows; no secret is
 * in the DOM; the page works with JavaScript off. Screenshots land in test-output/status-page/ (and, with
 * TACK_UPDATE_SCREENSHOTS=1, the README's in docs/).
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
const SHOTS = path.join(ROOT, "test-output/status-page");
const UI_TOKEN = "status-page-ui-token-6f1c2a9e";
const WEBHOOK_SECRET = "status-page-webhook-secret";

/** Desired and observed owner of scope api as the page shows them now. */
async function owners(page: Page): Promise<string> {
  const row = page.locator('tr[data-scope="api"]');
  if ((await row.count()) === 0) return "?/?";
  const desired = await row.locator("[data-desired]").getAttribute("data-desired");
  const observed = (await row.locator("[data-owner]").count()) ? await row.locator("[data-owner]").getAttribute("data-owner") : "unknown";
  return `${desired}/${observed}`;
}

/** Evaluated in the page (the test's tsconfig has no DOM types). */
const inPage = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

describe("the status page in Chromium", () => {
  let h: DaemonHost;
  let d: RunningDaemon | undefined;
  let browser: Browser;
  let page: Page;
  /** Script errors and console errors (a CSP violation is one): the page must have none. */
  const pageErrors: string[] = [];
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    h = await daemonHost();
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => void (msg.type() === "error" && pageErrors.push(msg.text())));
  });
  afterAll(async () => {
    await browser?.close();
    await d?.stop();
    if (process.env.TACK_DAEMON_TEST_LOGS) console.log(h.logs.join("\n"));
  });

  it("opens with the token once (cookie), then shows the scopes and the edge", async () => {
    const c1 = await h.push({ owner: "docker" });
    d = await h.start({ uiToken: UI_TOKEN, webhookSecret: WEBHOOK_SECRET, intervalMs: 2000 });
    await waitFor("the first commit applied", async () => (await h.status(d!)).appliedRevision === c1, 120_000);
    expect((await fetch(`${d.url}/`)).status).toBe(401);
    await page.goto(`${d.url}/?token=${UI_TOKEN}`);
    expect(new URL(page.url()).search).toBe("");
    await waitFor("owners on the page", async () => (await owners(page)) === "docker/docker", 30_000);
    expect(await page.locator("#edge").innerText()).toMatch(/api\.daemon\.example\.org[\s\S]*NPM[\s\S]*scope api[\s\S]*docker/);
    await page.screenshot({ path: path.join(SHOTS, "1-docker.png"), fullPage: true });
  });

  it("sees the owners change live during a cutover, without a reload", async () => {
    await inPage(page, "window.noReload = true");
    const seen: string[] = [await owners(page)];
    const c2 = await h.push({ owner: "native" });
    let planSeen = "";
    await waitFor("native on the page", async () => {
      const o = await owners(page);
      if (o !== seen.at(-1)) seen.push(o);
      // While it applies, the page shows the revision's plan in the order the agent runs it.
      const problems = await page.locator("#problems").innerText();
      if (problems.includes("Applying")) planSeen = problems;
      return o === "native/native";
    }, 120_000, 100);
    expect(planSeen).toMatch(/Applying\s+plan of/);
    expect(planSeen).toMatch(/step\(s\), in the order the agent runs them/);
    // Desired moved first (the plan), then observed (the apply's gates): the page was live through the cutover.
    expect(seen).toEqual(["docker/docker", "native/docker", "native/native"]);
    expect(await inPage(page, "window.noReload")).toBe(true);
    expect(Number(await inPage(page, "document.documentElement.dataset.updates"))).toBeGreaterThan(1);
    await waitFor("the applied revision on the page", async () => (await page.locator("#summary").innerText()).includes(c2.slice(0, 12)), 30_000);
    expect(await page.locator("#runs").innerText()).toMatch(/Recent reconciles[\s\S]*poll\s+success/);
    // Applied: no plan is pending any more.
    await waitFor("no pending plan", async () => !(await page.locator("#problems").innerText()).includes("plan of"), 30_000);
    await page.screenshot({ path: path.join(SHOTS, "2-native.png"), fullPage: true });
  });

  it("shows an invalid revision with its file:line findings and what to do", async () => {
    const bad = await h.push({ broken: true });
    const problems = page.locator("#problems");
    await waitFor("the invalid revision on the page", async () => (await problems.innerText()).includes(bad.slice(0, 12)), 60_000);
    const text = await problems.innerText();
    expect(text).toMatch(/Invalid/);
    expect(text).toMatch(/tack\.yaml:\d+:\d+ .*scopes\.api\.owner/);
    expect(text).toMatch(/push a new commit/);
    // The whole page, not the element: a live update (SSE) may replace #problems while an element shot waits for it to be stable.
    await page.screenshot({ path: path.join(SHOTS, "3-invalid.png"), fullPage: true });
  });

  it("shows a suspension: who, why, until when", async () => {
    const r = await fetch(`${d!.url}/suspend`, { method: "POST", body: JSON.stringify({ for: "2h", reason: "disk swap on the host", by: "ops@sandbox" }) });
    expect(r.status).toBe(200);
    const section = page.locator("#suspension");
    await waitFor("the suspension on the page", async () => (await section.innerText()).includes("ops@sandbox"), 30_000);
    expect(await section.innerText()).toMatch(/Suspended[\s\S]*disk swap on the host[\s\S]*tack resume/);
    await page.screenshot({ path: path.join(SHOTS, "4-suspended.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await inPage(page, "getComputedStyle(document.body).backgroundColor")).toBe("rgb(13, 17, 23)");
    await page.screenshot({ path: path.join(SHOTS, "4-suspended-dark.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
    if (process.env.TACK_UPDATE_SCREENSHOTS) await copyFile(path.join(SHOTS, "4-suspended.png"), path.join(ROOT, "docs/status-page.png"));
  });

  it("has no script error and no CSP violation", () => {
    expect(pageErrors).toEqual([]);
  });

  it("has no secret in the DOM or the address bar", async () => {
    const dom = await page.content();
    for (const secret of [UI_TOKEN, WEBHOOK_SECRET]) {
      expect(dom).not.toContain(secret);
      expect(page.url()).not.toContain(secret);
    }
    // The cookie the token set is HttpOnly: the page's script cannot read it.
    expect(await inPage(page, "document.cookie")).toBe("");
  });

  it("works with JavaScript disabled (server-rendered), and on a phone-sized screen", async () => {
    const nojs = await launchChromium({ javaScriptEnabled: false, width: 390, height: 844 });
    try {
      const p = await nojs.context.newPage();
      await p.goto(`${d!.url}/?token=${UI_TOKEN}`);
      expect(await owners(p)).toBe("native/native");
      expect(await p.locator("#suspension").innerText()).toContain("ops@sandbox");
      expect(await p.locator("#problems").innerText()).toMatch(/tack\.yaml:\d+:\d+/);
      expect(await p.locator("#live").innerText()).toMatch(/reload for news/);
      // Readable on a phone: nothing wider than the screen but the tables' own scroll boxes.
      expect(await inPage(p, "document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      await p.screenshot({ path: path.join(SHOTS, "5-nojs-phone.png"), fullPage: true });
    } finally {
      await nojs.close();
    }
  });
});
