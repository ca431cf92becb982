/**
 * A link in the agent's folder under the name of a file the agent writes is
 * never followed: error.log, session_monitor.log, status.json and event_log.csv pointing at a
 * file elsewhere leave that file untouched, and the refusal is reported.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AgentProcess,
  change,
  errorLog,
  eventually,
  FaultBench,
  HEADER,
  row,
  stopOrFail,
} from "./journal_fault_support.ts";

const LINKED: Record<string, { names: string[]; reportedIn: string }> = {
  "error.log, status.json and event_log.csv as links": {
    names: ["error.log", "status.json", "event_log.csv"],
    reportedIn: "session_monitor.log",
  },
  "session_monitor.log as a link": { names: ["session_monitor.log"], reportedIn: "error.log" },
};

Deno.test("links planted under the names of the agent's files are refused, never written through", async (t) => {
  const bench = await FaultBench.start();
  const elsewhere = await Deno.makeTempDir({ prefix: "usm-victims-" });
  try {
    for (const [name, { names, reportedIn }] of Object.entries(LINKED)) {
      await t.step(name, async () => {
        const { dir, config } = await bench.folder();
        const victims = new Map<string, string>();
        for (const file of names) {
          const victim = join(elsewhere, `${crypto.randomUUID()}-${file}`);
          // A journal-shaped victim with a pending row: not followed, so not sent either. The
          // other victims are larger than any status (8 KiB): status.json's in-place fallback
          // for a full disk would fit into them if it ever followed the link.
          const text = file === "event_log.csv"
            ? HEADER + row("victim-row", 0)
            : "precious\n".repeat(820);
          await Deno.writeTextFile(victim, text);
          await Deno.symlink(victim, join(dir, file));
          victims.set(victim, text);
        }
        const user = `linked-${names.length}`;
        const agent = AgentProcess.start(config);
        try {
          await agent.ready();
          await agent.feed(change(user));
          await bench.expectStored([user]);
          // status.json is written after the event went out: wait for its refusal, if linked.
          if (names.includes("status.json")) {
            await eventually(
              "the link at status.json refused",
              () => Deno.readTextFile(join(dir, reportedIn)).catch(() => ""),
              (text) => text.includes(`Refusing to use ${join(dir, "status.json")}`),
            );
          }
        } finally {
          assert.equal(await stopOrFail(agent), 0);
        }
        for (const [victim, text] of victims) {
          assert.equal(await Deno.readTextFile(victim), text, `${victim} was written through`);
        }
        assert.ok(!bench.server.stored().some((s) => s.userName === "victim-row"));
        const report = reportedIn === "error.log"
          ? await errorLog(dir)
          : await Deno.readTextFile(join(dir, reportedIn));
        for (const file of names) {
          if (file === "event_log.csv") {
            assert.match(report, /Moved the unreadable journal .* \(it is a symbolic link to /);
            assert.ok((await Deno.lstat(join(dir, file))).isFile, "a new journal in its place");
          } else {
            assert.match(
              report,
              new RegExp(
                `Refusing to use ${join(dir, file)}: it is a symbolic link to ${elsewhere}`,
              ),
            );
          }
        }
      });
    }
  } finally {
    await bench.stop();
    await Deno.remove(elsewhere, { recursive: true });
  }
});
