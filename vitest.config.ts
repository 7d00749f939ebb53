import { defineConfig } from "vitest/config";

// Two projects: `unit` needs nothing but Node; `sandbox` (files named *.sandbox.test.ts) needs the
// sandbox host (root, namespaces, systemd, dockerd, ufw) and runs one file at a time because the
// files of one run share that host. `npm test` runs both inside the sandbox.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["**/*.test.ts"],
          exclude: ["**/*.sandbox.test.ts", "node_modules/**"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "sandbox",
          include: ["**/*.sandbox.test.ts"],
          exclude: ["node_modules/**"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
