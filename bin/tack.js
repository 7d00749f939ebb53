#!/usr/bin/env node
// Runs tack's TypeScript sources directly through tsx's loader, so `npx tack` needs no build step.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
