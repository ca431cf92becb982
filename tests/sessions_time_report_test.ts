/**
 * The server's pairing rule as tests/support/time_report.ts writes it (from winauthmon-server's
 * calculate_time_spent), and what the report says without the events this agent infers.
 */
import assert from "node:assert/strict";
import { type ReportRow, timeSpent, userSeconds } from "./support/time_report.ts";

function row(eventType: string, userName: string, at: string): ReportRow {
  return { eventType, userName, epochMs: Temporal.Instant.from(at).epochMilliseconds };
}

Deno.test("the report pairs the latest start with the next end, per user and day", () => {
  const rows = [
    row("Logon", "alice", "2025-01-14T08:00:00Z"),
    row("Unlock", "alice", "2025-01-14T08:30:00Z"), // a later start replaces the open one
    row("Lock", "alice", "2025-01-14T12:00:00Z"),
    row("Lock", "alice", "2025-01-14T12:05:00Z"), // an end with nothing open counts nothing
    row("Unlock", "alice", "2025-01-14T13:00:00Z"),
    row("Logoff", "alice", "2025-01-14T17:00:00Z"),
  ];
  assert.equal(userSeconds(rows, "alice"), 3.5 * 3600 + 4 * 3600);
});

Deno.test("the report drops a span across midnight and uses first start to last end on a day without pairs", () => {
  assert.equal(
    userSeconds([
      row("Logon", "bob", "2025-01-14T22:00:00Z"),
      row("Logoff", "bob", "2025-01-15T02:00:00Z"),
    ], "bob"),
    0,
  );
  // Day 2: an end first (nothing open), then a start with no end: first start > last end.
  const days = timeSpent([
    row("Logoff", "carol", "2025-01-15T07:00:00Z"),
    row("Logon", "carol", "2025-01-15T08:00:00Z"),
  ]);
  assert.equal(days.get("2025-01-15 carol"), 0);
  // Summer time: the server's zone (Europe/London) decides the day and the naive times.
  assert.equal(
    userSeconds([
      row("Logon", "dan", "2025-06-02T23:30:00Z"), // 00:30 on 3 June in London
      row("Logoff", "dan", "2025-06-03T01:30:00Z"),
    ], "dan"),
    2 * 3600,
  );
});

Deno.test("without the inferred events the report is wrong in the scenarios of docs/sessions.md", async (t) => {
  await t.step("installed mid-session: no Logon, no time", () => {
    assert.equal(userSeconds([row("Logoff", "alice", "2025-01-14T17:00:00Z")], "alice"), 0);
  });
  await t.step("power loss: no Logoff, no time that day", () => {
    assert.equal(userSeconds([row("Logon", "alice", "2025-01-14T08:00:00Z")], "alice"), 0);
  });
  await t.step("Remote Desktop without disconnect events: both days missing", () => {
    assert.equal(
      userSeconds([
        row("Logon", "alice", "2025-01-14T08:00:00Z"),
        row("Logoff", "alice", "2025-01-15T17:00:00Z"),
      ], "alice"),
      0,
    );
  });
  await t.step(
    "fast user switching without disconnect events: alice counted while bob works",
    () => {
      assert.equal(
        userSeconds([
          row("Logon", "alice", "2025-01-14T08:00:00Z"),
          row("Logoff", "alice", "2025-01-14T17:00:00Z"),
        ], "alice"),
        9 * 3600,
      );
    },
  );
});
