/**
 * The development install's folder check with the system's own descriptors (Windows / Wine):
 * refused where users may write, unless USM_DEV_INSTALL=test-machine, which says what it means.
 */
import assert from "node:assert/strict";
import {
  checkDevelopmentInstall,
  DEV_INSTALL_ENV,
} from "../../src/windows/security/dev_install.ts";

const ignore = Deno.build.os !== "windows";

Deno.test({
  name:
    "development install: a checkout in a folder its user may write is refused, or allowed on a test machine",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "usm-dev-" }); // the user's own temp folder
    try {
      const paths = { denoExe: Deno.execPath(), modulePath: `${tmp}\\mod.ts` };
      const lines: string[] = [];
      assert.throws(
        () => checkDevelopmentInstall(paths, (l) => lines.push(l), () => undefined),
        /Refusing the development install: ordinary users could replace what the service runs as SYSTEM: .*usm-dev-/,
      );
      assert.match(lines.join("\n"), /for test machines only/);
      const allowed: string[] = [];
      checkDevelopmentInstall(
        paths,
        (l) => allowed.push(l),
        (name) => name === DEV_INSTALL_ENV ? "test-machine" : undefined,
      );
      assert.match(allowed.join("\n"), /Warning: USM_DEV_INSTALL=test-machine: going ahead/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
