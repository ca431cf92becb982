import assert from "node:assert/strict";
import type { SessionEvent } from "../event.ts";
import { UNSAVED_RETRY_MS, UnsavedEvents, type UnsavedEventsOptions } from "./unsaved_events.ts";
import type { Level } from "../log/log.ts";
import { ManualClock } from "../../tests/support/manual_clock.ts";

function event(n: number): SessionEvent {
  return {
    eventType: "Logon",
    userName: `user${n}`,
    computerName: "PC",
    ipAddress: "10.0.0.5",
    timestamp: `2026-11-25T12:00:0${n}Z`,
  };
}

/** A journal whose disk can be made full. */
class Disk {
  full = false;
  rows: string[] = [];
  append(e: SessionEvent): Promise<void> {
    if (this.full) return Promise.reject(new Error("No space left on device"));
    this.rows.push(e.userName);
    return Promise.resolve();
  }
}

function setup(overrides: Partial<UnsavedEventsOptions> = {}) {
  const clock = new ManualClock();
  const disk = new Disk();
  const lines: [Level, string][] = [];
  const seen = { saved: 0, changes: 0 };
  const held = new UnsavedEvents({
    dir: "/agent",
    clock,
    log: (level, message) => lines.push([level, message]),
    sink: () => disk,
    onSaved: () => seen.saved++,
    onChange: () => seen.changes++,
    ...overrides,
  });
  return { clock, disk, lines, seen, held };
}

Deno.test("unsaved events keep their order and reach the disk once it takes them again", async () => {
  const { clock, disk, lines, seen, held } = setup();
  const written: number[] = [];
  await held.append(event(1), "user1", () => written.push(1));
  disk.full = true;
  await held.append(event(2), "user2", () => written.push(2));
  disk.full = false;
  await held.append(event(3), "user3", () => written.push(3)); // queues behind the held one
  assert.deepEqual(disk.rows, ["user1"]);
  assert.deepEqual(written, [1]);
  assert.equal(held.count, 2);
  assert.match(
    lines.find(([l]) => l === "error")![1],
    /Cannot write event_log.csv in \/agent: No space left on device; 1 events held in memory/,
  );
  assert.ok(
    lines.some(([l, m]) =>
      l === "warn" && m === "Logon of user3 held in memory: event_log.csv is not writable"
    ),
  );
  const changesWhileHeld = seen.changes;
  assert.ok(changesWhileHeld >= 2, "each event held is reported (status.json's unsaved count)");
  await clock.advance(UNSAVED_RETRY_MS);
  assert.deepEqual(disk.rows, ["user1", "user2", "user3"]);
  assert.deepEqual(written, [1, 2, 3], "a held event's write is reported once it is on disk");
  assert.equal(held.count, 0);
  assert.equal(seen.saved, 1);
  assert.ok(seen.changes >= 1);
  await held.close();
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("unsaved events are retried every few seconds while the disk stays full", async () => {
  const { clock, disk, held } = setup();
  disk.full = true;
  await held.append(event(1), "user1", () => {});
  await clock.advance(UNSAVED_RETRY_MS);
  await clock.advance(UNSAVED_RETRY_MS);
  assert.equal(held.count, 1);
  assert.equal(clock.pendingTimers, 1);
  await held.close(); // one last try, still refused; no timer is left behind
  assert.equal(held.count, 1);
  assert.equal(clock.pendingTimers, 0);
  disk.full = false;
});
