/**
 * A user who signs in again after a power loss, before the agent starts: the journal still has
 * the user logged on (the old session's Logon), and the snapshot shows a session of that user
 * again, but one that began after the agent last knew the old one alive (sessions.json). The
 * old session ended unseen: the agent records its Logoff at the last time it knew it alive and a
 * Logon for the new session at its logon time. Before, it saw the user "still logged on" and
 * recorded neither, and the server's time report paired the old Logon with the new day's
 * Logoff.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { userSeconds } from "../support/time_report.ts";
import { AgentProcess, eventually, FaultBench, journalRows } from "./journal_fault_support.ts";

const D1 = "2025-01-14";
const D2 = "2025-01-15";
const HOUR = 3600;

Deno.test("a re-logon after a power loss, before the agent starts, ends the old session", async () => {
  const bench = await FaultBench.start();
  try {
    const { dir, config } = await bench.folder();
    const first = AgentProcess.start(config);
    try {
      await first.ready();
      await first.feed({ type: "clock", at: `${D1}T08:00:00Z` }, { type: "present", none: true });
      await first.feed({ type: "logon", user: "alice", session: 2, at: `${D1}T08:00:00Z` });
      await eventually("the Logon sent", () => journalRows(dir), (rows) => rows[0]?.status === 1);
      await first.feed({ type: "clock", at: `${D1}T12:00:00Z` });
      await eventually(
        "sessions.json written at 12:00",
        () => Deno.readTextFile(join(dir, "sessions.json")).catch(() => ""),
        (text) => text.includes(`"aliveAt":"${D1}T12:00:0`),
      );
    } finally {
      await first.stop("SIGKILL"); // the power goes
    }

    const second = AgentProcess.start(config);
    try {
      await second.ready();
      await second.feed(
        { type: "clock", at: `${D2}T08:30:00Z` },
        // Signed in again at 08:10, before the agent started at 08:30.
        { type: "present", user: "alice", session: 1, logonAt: `${D2}T08:10:00Z` },
        { type: "present", none: true }, // no other session: the snapshot is complete
      );
      await eventually("the Logoff and Logon", () => journalRows(dir), (rows) => rows.length === 3);
      await second.feed({ type: "logoff", user: "alice", session: 1, at: `${D2}T17:00:00Z` });
      await eventually("the day's Logoff", () => journalRows(dir), (rows) => rows.length === 4);
      await eventually(
        "every row sent",
        () => journalRows(dir),
        (rows) => rows.every((row) => row.status === 1),
      );
    } finally {
      assert.equal((await second.stop()).code, 0);
    }
    const stored = bench.server.stored().filter((s) => s.userName === "alice");
    assert.deepEqual(stored.map((s) => `${s.eventType} ${s.timestamp}`), [
      `Logon ${D1}T08:00:00Z`,
      `Logoff ${D1}T12:00:00Z`,
      `Logon ${D2}T08:10:00Z`,
      `Logoff ${D2}T17:00:00Z`,
    ]);
    const worked = userSeconds(bench.server.stored(), "alice");
    assert.equal(worked, 4 * HOUR + 8 * HOUR + 50 * 60, "the server's time report");
  } finally {
    await bench.stop();
  }
});
