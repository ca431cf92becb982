/**
 * A full disk at the very first start (a real, tiny tmpfs; no event_log.csv yet): the agent
 * starts anyway, holds the events it records in memory, says so, and writes them to a new
 * event_log.csv (and sends them) once space returns. Before, it exited at once ("Cannot open
 * .../event_log.csv") and recorded nothing, at every restart of the service.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { canMount, run } from "../support/files.ts";
import {
  AgentProcess,
  change,
  eventually,
  FaultBench,
  journalRows,
} from "./journal_fault_support.ts";

/** Fills the file system of `dir` until a write fails; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const filler = join(dir, "filler.bin");
  const file = await Deno.open(filler, { write: true, create: true });
  try {
    while (true) await file.write(new Uint8Array(4096));
  } catch {
    /* full */
  } finally {
    file.close();
  }
  return filler;
}

Deno.test({
  name: "an agent first started on a full disk holds its events and writes them when space returns",
  ignore: !canMount(),
  async fn() {
    const bench = await FaultBench.start();
    const mount = await Deno.makeTempDir({ prefix: "usm-first-full-" });
    await run("mount", "-t", "tmpfs", "-o", "size=128k,mode=0700", "tmpfs", mount);
    let agent: AgentProcess | undefined;
    try {
      const { config: template } = await bench.folder();
      const config = join(mount, "config.ini");
      await Deno.copyFile(template, config);
      await Deno.chmod(config, 0o600);
      const filler = await fill(mount);

      agent = AgentProcess.start(config);
      await agent.ready();
      const users = ["first-full-0", "first-full-1", "first-full-2"];
      for (const [i, user] of users.entries()) {
        await agent.feed(change(user, i));
        await agent.waitForLine(new RegExp(`Lock of ${user} held in memory`));
      }
      assert.deepEqual(await journalRows(mount), []);

      await Deno.remove(filler);
      const rows = await eventually(
        "the held events in event_log.csv",
        () => journalRows(mount),
        (rows) => rows.length === users.length,
      );
      assert.deepEqual(rows.map((row) => row.event.userName), users, "in the order recorded");
      await bench.expectStored(users);
      const status = await eventually(
        "status.json without held events",
        () => Deno.readTextFile(join(mount, "status.json")).then(JSON.parse).catch(() => ({})),
        (status) => status.state === "running" && status.unsaved === 0,
      );
      assert.equal(status.unsaved, 0);
      assert.equal((await agent.stop()).code, 0);
      agent = undefined;
    } finally {
      if (agent) await agent.stop("SIGKILL");
      await run("umount", mount).catch(() => {});
      await Deno.remove(mount, { recursive: true });
      await bench.stop();
    }
  },
});
