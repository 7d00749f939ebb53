import { describe, expect, it } from "vitest";
import { NOT_IN_SANDBOX, sandbox } from "./sandbox-env.js";

describe("sandbox()", () => {
  const env = {
    TACK_SANDBOX: "1",
    TACK_SANDBOX_DIR: "/tmp/tack-sandbox-x",
    TACK_SANDBOX_PARTS: "systemd,docker",
    DOCKER_HOST: "unix:///tmp/tack-sandbox-x/docker.sock",
    HOME: "/tmp/tack-sandbox-x/home",
    XDG_RUNTIME_DIR: "/tmp/tack-sandbox-x/xdg-runtime",
    TACK_SANDBOX_COMPOSE: "docker compose",
    TACK_SANDBOX_BUSYBOX_IMAGE: "tack-busybox:sandbox",
  };

  it("reads the environment the launcher exports", () => {
    expect(sandbox({ parts: ["docker"] }, env)).toMatchObject({
      dir: "/tmp/tack-sandbox-x",
      parts: ["systemd", "docker"],
      dockerHost: "unix:///tmp/tack-sandbox-x/docker.sock",
      home: "/tmp/tack-sandbox-x/home",
      compose: ["docker", "compose"],
      busyboxImage: "tack-busybox:sandbox",
    });
  });

  it("throws outside the sandbox, and when a needed part was not started", () => {
    expect(() => sandbox({}, {})).toThrow(NOT_IN_SANDBOX);
    expect(() => sandbox({ parts: ["npm", "ufw"] }, env)).toThrow(/missing part\(s\): npm, ufw/);
  });
});
