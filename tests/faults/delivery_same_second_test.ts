/**
 * Changes of one type for one user within one second (lock, unlock, lock again; a sign-out and
 * straight back in): the server's duplicate key holds whole seconds, so two Locks of one user in
 * one second would be one row on the server, and the agent would mark the second "sent" on the
 * server's "already recorded". The agent moves the later one on to the next free second, keeping
 * the user's events in order: every change is stored.
 */
import assert from "node:assert/strict";
import { AgentProcess, eventually, FaultBench, journalRows } from "./journal_fault_support.ts";

/** The changes: several of one type for one user in one second, fed one at a time. */
const CHANGES = [
  ["lock", "08:00:00.100"],
  ["unlock", "08:00:00.500"],
  ["lock", "08:00:00.900"],
  ["unlock", "08:00:01.200"],
  ["logoff", "08:00:01.400"],
  ["logon", "08:00:01.600"],
  ["logoff", "08:00:01.800"],
  ["logon", "08:00:01.950"],
] as const;

Deno.test("changes of one type for one user in one second are all stored, in order", async () => {
  const bench = await FaultBench.start();
  try {
    const { dir, config } = await bench.folder();
    const agent = AgentProcess.start(config);
    try {
      await agent.ready();
      for (const [i, [type, time]] of CHANGES.entries()) {
        await agent.feed({ type, user: "same-second", session: 2, at: `2025-04-27T${time}Z` });
        await eventually(
          `row ${i + 1} in event_log.csv`,
          () => journalRows(dir),
          (rows) => rows.length === i + 1,
        );
      }
      const rows = await journalRows(dir);
      assert.deepEqual(
        rows.map((row) => row.event.eventType),
        ["Lock", "Unlock", "Lock", "Unlock", "Logoff", "Logon", "Logoff", "Logon"],
      );
      const times = rows.map((row) => Temporal.Instant.from(row.event.timestamp));
      for (let i = 1; i < times.length; i++) {
        assert.ok(Temporal.Instant.compare(times[i - 1], times[i]) <= 0, "in order");
      }
      await eventually(
        "every row settled",
        () => journalRows(dir),
        (rows) => rows.every((row) => row.status !== 0),
      );
      const stored = bench.server.stored().filter((event) => event.userName === "same-second");
      assert.equal(stored.length, CHANGES.length, "every change is stored on the server");
    } finally {
      assert.equal((await agent.stop()).code, 0);
    }
  } finally {
    await bench.stop();
  }
});
