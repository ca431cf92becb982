/**
 * The entry of a TEST build of the agent: the release entry (mod.ts) plus the test-only session
 * controls (test_controls.ts). `deno task compile --test-build` compiles it into
 * dist/test/winagentUSM.exe; the Windows tests install the development agent with it (the
 * service then runs this module, so its controls exist there too). Never shipped.
 *
 * @module
 */
import { VERSION } from "../../mod.ts";
import { main } from "../../src/cli/cli.ts";
import type { Platform } from "../../src/platform.ts";
import { createPosixPlatform } from "../../src/posix.ts";
import { registerTestControls } from "./test_controls.ts";

registerTestControls();

async function platform(): Promise<Platform> {
  if (Deno.build.os === "windows") {
    const windows = await import("../../src/windows/platform.ts");
    return windows.createWindowsPlatform();
  }
  return createPosixPlatform();
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, { platform: await platform(), version: VERSION }));
}
