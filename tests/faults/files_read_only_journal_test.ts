/**
 * A read-only event_log.csv for an agent that does not run as root (an agent process run as
 * `nobody`): the start fails with a message that names the file and the fix (give the agent's
 * account write access), not "move the file aside", and the file is left as it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AGENT_PERMISSIONS, MOD_TS } from "../support/agent_process.ts";
import { canMount, run } from "../support/files.ts";
import { FaultBench, HEADER, row } from "./journal_fault_support.ts";

const NOBODY = 65534;

Deno.test({
  name: "a read-only event_log.csv stops a non-root agent with the file and the fix named",
  // Running the agent as another user needs root (canMount: Linux, root).
  ignore: !canMount(),
  async fn() {
    const bench = await FaultBench.start();
    const home = await Deno.makeTempDir({ prefix: "usm-nobody-" });
    try {
      const { dir, config, eventLog } = await bench.folder();
      const text = HEADER + row("kept", 0);
      await Deno.writeTextFile(eventLog, text);
      await Deno.chmod(eventLog, 0o444);
      await run("chown", "-R", `${NOBODY}:${NOBODY}`, dir, home);
      const { code, stderr } = await new Deno.Command("setpriv", {
        args: [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          "--clear-groups",
          Deno.execPath(),
          "run",
          "-q",
          ...AGENT_PERMISSIONS,
          MOD_TS,
          "--service",
          "run",
          "--config",
          config,
        ],
        env: { NO_COLOR: "1", HOME: home, DENO_DIR: join(home, "deno") },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(stderr);
      assert.equal(code, 1, said);
      assert.match(
        said,
        new RegExp(
          `Cannot open ${eventLog}: .*Permission denied.*; give the agent's account \\(uid ${NOBODY}\\) permission to write it, or run the agent as its owner; nothing in it is lost`,
        ),
      );
      assert.equal(await Deno.readTextFile(eventLog), text, "event_log.csv is left as it was");
    } finally {
      await bench.stop();
      await Deno.remove(home, { recursive: true });
    }
  },
});
