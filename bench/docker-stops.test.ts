import { describe, expect, it } from "vitest";
import { fromEvents } from "./docker-stops.js";

const ev = (action: string, id: string, ms: number, name = id) => ({ Action: action, id, timeNano: ms * 1e6, Actor: { Attributes: { name } } });

describe("stop waits from Docker's events", () => {
  it("each container from its first kill to its die; overlapping stops count once", () => {
    const w = fromEvents([
      ev("kill", "a", 1000, "p-api-1"),
      ev("kill", "b", 1500, "p-web-1"),
      ev("die", "a", 2000, "p-api-1"),
      ev("kill", "b", 11500, "p-web-1"), // SIGKILL after the grace: the same wait
      ev("die", "b", 11600, "p-web-1"),
      ev("start", "c", 12000),
      ev("kill", "d", 20000),
      ev("die", "d", 20500),
    ]);
    expect(w.stops).toEqual([
      { container: "p-api-1", ms: 1000 },
      { container: "p-web-1", ms: 10100 },
      { container: "d", ms: 500 },
    ]);
    expect(w.graceMs).toBe(1000 + 9600 + 500);
  });

  it("a die without a kill (a crash) is no stop wait", () => {
    expect(fromEvents([ev("die", "a", 5)]).graceMs).toBe(0);
  });
});
