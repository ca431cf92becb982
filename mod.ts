/**
 * winagentUSM: the User Session Monitor Agent. The entry point of `deno run` and of the compiled
 * winagentUSM.exe.
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { main } from "./src/cli/cli.ts";
import type { Platform } from "./src/platform.ts";
import { createPosixPlatform } from "./src/posix.ts";

/** The agent's version, from deno.json. */
export const VERSION: string = denoJson.version;

async function platform(): Promise<Platform> {
  if (Deno.build.os === "windows") {
    // A string literal, so that `deno compile` bundles the Windows layer.
    const windows = await import("./src/windows/platform.ts");
    return windows.createWindowsPlatform();
  }
  if (Deno.build.os === "linux") {
    return createPosixPlatform({
      // systemd-logind's sessions, loaded on Linux only (a string literal, bundled likewise).
      sessionSource: async (options) => {
        const { LogindSource } = await import("./src/linux/logind_source.ts");
        return await LogindSource.open(options);
      },
    });
  }
  return createPosixPlatform();
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, { platform: await platform(), version: VERSION }));
}
