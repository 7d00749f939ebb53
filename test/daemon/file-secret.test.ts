import { rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fileSecret } from "../../agent/file-secret.js";
import { tempDir } from "../helpers/temp-repo.js";

describe("the webhook secret file, read when a webhook comes", () => {
  it("is undefined until the file is there (an age secret's target, written by the first converge), then follows rotations", async () => {
    const file = path.join(await tempDir(), "webhook-secret");
    const secret = fileSecret(file);
    expect(secret()).toBeUndefined();
    await writeFile(file, "short\n");
    expect(secret()).toBeUndefined();
    await writeFile(file, "first-secret-0123456789\n");
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    expect(secret()).toBe("first-secret-0123456789");
    await writeFile(file, "second-secret-012345678\n");
    await utimes(file, new Date(), new Date(Date.now() + 10_000));
    expect(secret()).toBe("second-secret-012345678");
    await rm(file);
    expect(secret()).toBeUndefined();
  });
});
