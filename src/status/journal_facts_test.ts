import assert from "node:assert/strict";
import { join } from "node:path";
import { JOURNAL_HEADER, rowText } from "../journal/journal.ts";
import { createPosixPlatform } from "../posix.ts";
import { statusReport } from "./command.ts";
import { PENDING_LISTED } from "./journal_facts.ts";
import { pendingLines, pendingReport } from "./pending.ts";

const KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";
const START = Date.parse("2025-04-27T00:00:00Z");
const ROWS = 200_000;

/** The time of row `i`: one a second from START. */
function timeOf(i: number): string {
  return new Date(START + i * 1000).toISOString().replace(".000Z", "+00:00");
}

/** Row `i` is sent when i % 4 is 0, refused when 1, pending otherwise. */
function statusOf(i: number): 0 | 1 | 3 {
  return i % 4 === 0 ? 1 : i % 4 === 1 ? 3 : 0;
}

Deno.test("--status and --pending count a journal of 200,000 rows read as a stream", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-status-big-" });
  try {
    const config = join(dir, "config.ini");
    await Deno.writeTextFile(
      config,
      `[API]\napi_key = ${KEY}\nserver_url = https://127.0.0.1:8000\n`,
    );
    const pieces = [JOURNAL_HEADER + "\n"];
    for (let i = 0; i < ROWS; i++) {
      const event = {
        eventType: "Lock" as const,
        userName: `user${i % 50}`,
        computerName: "PC",
        ipAddress: "192.0.2.1",
        timestamp: timeOf(i),
      };
      pieces.push(rowText(event, statusOf(i)));
    }
    await Deno.writeTextFile(join(dir, "event_log.csv"), pieces.join(""));

    const now = START + ROWS * 1000;
    const { events } = await statusReport(config, { platform: createPosixPlatform(), now });
    assert.equal(events.total, ROWS);
    assert.equal(events.pending, ROWS / 2);
    assert.equal(events.rejected, ROWS / 4);
    assert.equal(events.oldestPendingAt, timeOf(2));
    assert.equal(events.oldestPendingAgeSeconds, ROWS - 2);
    assert.equal(events.lastRecordedAt, timeOf(ROWS - 1));
    assert.equal(events.lastSentEventAt, timeOf(ROWS - 4));

    const report = await pendingReport(config);
    assert.equal(report.events.length, PENDING_LISTED);
    assert.deepEqual(report.events.slice(0, 2).map((e) => e.time), [timeOf(2), timeOf(3)]);
    assert.equal(report.events.at(-1)?.time, timeOf(4 * (PENDING_LISTED / 2 - 1) + 3));
    assert.equal(report.notListed, ROWS / 2 - PENDING_LISTED);
    const lines = pendingLines(report);
    assert.equal(lines.length, 1 + PENDING_LISTED + 1);
    assert.equal(
      lines.at(-1),
      `${
        ROWS / 2 - PENDING_LISTED
      } more events wait in event_log.csv (the oldest ${PENDING_LISTED} are listed)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
