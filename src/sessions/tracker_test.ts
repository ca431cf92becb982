import assert from "node:assert/strict";
import { join } from "node:path";
import { systemClock } from "../clock.ts";
import { Journal, JOURNAL_HEADER, rowText } from "../journal/journal.ts";
import type { SessionEvent } from "../event.ts";
import { SessionTracker } from "./tracker.ts";

const SETTINGS = {
  logonAtStart: true,
  logoffAtShutdown: true,
  logoffAfterUncleanStop: true,
  disconnectEvents: "lock" as const,
};

function event(type: SessionEvent["eventType"], user: string, time: string): SessionEvent {
  return {
    eventType: type,
    userName: user,
    computerName: "PC",
    ipAddress: "10.0.0.5",
    timestamp: `2025-01-14T${time}Z`,
  };
}

Deno.test("the tracker reads the journal and keeps what was recorded while it started", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "event_log.csv");
    const journal = await Journal.open(path, { rotationSizeBytes: 0 });
    await journal.append(event("Logon", "alice", "08:00:00"));
    await journal.append(event("Logon", "bob", "08:30:00"));
    await journal.append(event("Logoff", "bob", "09:00:00"));
    await journal.close();
    const logged: string[] = [];
    const tracker = new SessionTracker({
      dir,
      clock: systemClock,
      log: (_, message) => logged.push(message),
      settings: () => SETTINGS,
    });
    // A logon held in memory while the agent starts is noted before the journal is read.
    tracker.noted(event("Logon", "carol", "09:10:00"), 4);
    await tracker.load(path);
    assert.deepEqual(tracker.view.open().map(([user]) => user), ["alice", "carol"]);
    assert.match(logged[0], /Open sessions in event_log\.csv: alice, carol; no sessions\.json/);
    // carol's logon is known: the snapshot adds no second one.
    const planned = tracker.planStart([
      { user: "alice", session: 2, state: "active" },
      { user: "carol", session: 4, state: "active" },
    ], tracker.generation);
    assert.deepEqual(planned, []);
    tracker.keepAlive();
    await tracker.close();
    const alive = JSON.parse(await Deno.readTextFile(join(dir, "sessions.json")));
    assert.deepEqual(alive.open, ["alice", "carol"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the open-sessions view is built from a journal of 200,000 rows", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "event_log.csv");
    // 50 users, a second apart; at the end the users with an odd number are logged on.
    const rows = [JOURNAL_HEADER + "\n"];
    const start = Date.UTC(2025, 0, 1);
    for (let i = 0; i < 200_000; i++) {
      const user = i % 50;
      const type = (Math.floor(i / 50) + user) % 2 === 0 ? "Logon" : "Logoff";
      const time = new Date(start + i * 1000).toISOString().replace(".000Z", "Z");
      rows.push(rowText({ ...event(type, `user-${user}`, ""), timestamp: time }, 1));
    }
    await Deno.writeTextFile(path, rows.join(""));
    const expected = Array.from({ length: 25 }, (_, i) => `user-${2 * i + 1}`);
    const tracker = (logged: string[]) =>
      new SessionTracker({
        dir,
        clock: systemClock,
        log: (_, message) => logged.push(message),
        settings: () => SETTINGS,
      });

    await t.step("read along with the journal's open", async () => {
      const logged: string[] = [];
      const sessions = tracker(logged);
      const journal = await Journal.open(path, { rotationSizeBytes: 0, reader: sessions.reader() });
      await journal.close();
      await sessions.load(path);
      assert.deepEqual(sessions.view.open().map(([user]) => user).sort(), expected.sort());
      assert.ok(!logged.some((line) => /cannot read/.test(line)), logged.join("\n"));
    });

    await t.step("read by the tracker itself", async () => {
      const logged: string[] = [];
      const sessions = tracker(logged);
      await sessions.load(path);
      assert.deepEqual(sessions.view.open().map(([user]) => user).sort(), expected.sort());
      assert.ok(!logged.some((line) => /cannot read/.test(line)), logged.join("\n"));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
