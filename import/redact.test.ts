import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { isSecretName, PLACEHOLDER, redactCompose, redactUnit } from "./redact.js";

describe("secret redaction in imported files", () => {
  it("knows secret names as plans mask them", () => {
    expect(["API_TOKEN", "DB_PASSWORD", "stripe_api_key", "JWT_SECRET", "AWS_CREDENTIALS"].every(isSecretName)).toBe(true);
    expect(["PORT", "MODE", "DATABASE_HOST"].some(isSecretName)).toBe(false);
  });

  it("compose: map and list environments read secrets from the agent's environment; the rest is kept with its comments", () => {
    const text = [
      "services:",
      "  api:",
      "    image: shop # pinned",
      "    environment:",
      "      API_TOKEN: abc123",
      "      PORT: \"4000\"",
      "  web:",
      "    environment:",
      "      - DB_PASSWORD=hunter2",
      "      - MODE=prod",
      "      - SESSION_SECRET",
      "",
    ].join("\n");
    const r = redactCompose(text);
    expect(r.removed).toEqual(["API_TOKEN", "DB_PASSWORD"]);
    expect(r.text).not.toMatch(/abc123|hunter2/);
    expect(r.text).toContain("image: shop # pinned");
    expect(r.text).toContain("# tack import: the value of DB_PASSWORD was removed (a secret)");
    const doc = parse(r.text) as { services: { api: { environment: Record<string, string> }; web: { environment: string[] } } };
    expect(doc.services.api.environment).toEqual({ API_TOKEN: "${API_TOKEN}", PORT: "4000" });
    expect(doc.services.web.environment).toEqual(["DB_PASSWORD=${DB_PASSWORD}", "MODE=prod", "SESSION_SECRET"]);
  });

  it("compose: a file with no secret is returned byte for byte", () => {
    const text = "services:\n  api:\n    environment: { PORT: '4000' }   # odd spacing kept\n";
    expect(redactCompose(text)).toEqual({ text, removed: [] });
  });

  it("units: the value of a secret-named Environment= is replaced, with a comment line above", () => {
    const r = redactUnit('[Service]\nEnvironment=PORT=4000 API_KEY=xyz\nEnvironment="DB_PASSWORD=a b" MODE=1\nExecStart=/usr/bin/app\n');
    expect(r.removed).toEqual(["API_KEY", "DB_PASSWORD"]);
    expect(r.text).toBe(
      "[Service]\n" +
        "# tack import: the value of API_KEY was removed (a secret); move it to an EnvironmentFile= on the host\n" +
        `Environment=PORT=4000 API_KEY=${PLACEHOLDER}\n` +
        "# tack import: the value of DB_PASSWORD was removed (a secret); move it to an EnvironmentFile= on the host\n" +
        `Environment="DB_PASSWORD=${PLACEHOLDER}" MODE=1\n` +
        "ExecStart=/usr/bin/app\n",
    );
    expect(redactUnit("[Service]\nEnvironment=PORT=1\n")).toEqual({ text: "[Service]\nEnvironment=PORT=1\n", removed: [] });
  });
});
