import assert from "node:assert/strict";
import { join } from "node:path";
import { SendStatus } from "../event.ts";
import { Journal } from "./journal.ts";
import { JOURNAL_HEADER } from "./format.ts";
import { readJournal } from "./read.ts";
import { event, HEADER, row } from "../../tests/support/journal_fixtures.ts";
import { listDir, withDir } from "../../tests/support/temp_dir.ts";

Deno.test("journal creates event_log.csv with the exact header and appends pending rows", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const journal = await Journal.open(path, { rotationSizeBytes: 0 });
    assert.equal(await Deno.readTextFile(path), HEADER);
    const entry = await journal.append(event("josh"));
    assert.equal(entry.status, SendStatus.Pending);
    assert.equal(entry.recovered, false);
    assert.equal(await Deno.readTextFile(path), HEADER + row(event("josh"), 0));
    assert.equal(journal.pendingCount, 1);
    await journal.close();
    assert.deepEqual(await listDir(dir), ["event_log.csv"]);
  });
});

Deno.test("journal round-trips names with commas, quotes, newlines and non-ASCII letters", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const names = [
      "Zoë",
      'Jürgen, O\'Neil "JJ"',
      "two\nlines",
      "cr\r\nlf",
      "=HYPERLINK(1)",
      "名前",
    ];
    const journal = await Journal.open(path, { rotationSizeBytes: 0 });
    for (const [i, name] of names.entries()) await journal.append(event(name, i));
    await journal.close();
    const bytes = await Deno.readFile(path);
    assert.notEqual(bytes[0], 0xef, "no BOM");
    assert.ok((await Deno.readTextFile(path)).includes('"Jürgen, O\'Neil ""JJ"""'));
    assert.ok((await Deno.readTextFile(path)).includes(",Zoë,"), "non-ASCII needs no quotes");
    const reopened = await Journal.open(path, { rotationSizeBytes: 0 });
    const pending = reopened.pending();
    assert.deepEqual(pending.map((e) => e.event), names.map((name, i) => event(name, i)));
    assert.ok(pending.every((e) => e.recovered));
    assert.deepEqual(pending.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
    await reopened.close();
  });
});

Deno.test("journal updates a status in place by changing one byte", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const journal = await Journal.open(path, { rotationSizeBytes: 0 });
    const a = await journal.append(event('a, "quoted"\nname', 1));
    const b = await journal.append(event("b", 2));
    const c = await journal.append(event("c", 3));
    const before = await Deno.readFile(path);
    await journal.setStatus(b, SendStatus.SentOnRetry);
    const after = await Deno.readFile(path);
    assert.equal(after.length, before.length);
    const changed = [...after.keys()].filter((i) => after[i] !== before[i]);
    assert.equal(changed.length, 1);
    assert.equal(after[changed[0]], 0x32);
    assert.equal(after[changed[0] + 1], 0x0a, "the status is the last byte before the line end");
    await journal.setStatus(a, SendStatus.Rejected);
    assert.deepEqual(journal.pending().map((e) => e.seq), [c.seq]);
    assert.equal(journal.pendingCount, 1);
    await journal.close();
    const { entries } = await readJournal(path);
    assert.deepEqual(entries.map((e) => e.status), [3, 2, 0]);
    assert.equal(entries[0].event.userName, 'a, "quoted"\nname');
  });
});

Deno.test("journal serializes concurrent appends and status updates", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const journal = await Journal.open(path, { rotationSizeBytes: 600, keep: 100 });
    const appends = Array.from(
      { length: 60 },
      (_, i) => journal.append(event(`user-${i}`, i % 60)),
    );
    const updates = appends.map((p, i) =>
      i % 3 === 0 ? p : p.then((entry) => journal.setStatus(entry, SendStatus.Sent))
    );
    await Promise.all(updates);
    const pending = journal.pending().map((e) => e.event.userName);
    assert.deepEqual(pending, Array.from({ length: 20 }, (_, i) => `user-${i * 3}`));
    await journal.close();
    const live = await readJournal(path);
    assert.equal(live.tornTail, false);
    assert.deepEqual(
      live.entries.filter((e) => e.status === 0).map((e) => e.event.userName),
      pending,
    );
  });
});

Deno.test("journal accepts CRLF line ends and updates the digit before them", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const text = [JOURNAL_HEADER, "Lock,Josh,PC,10.0.0.1,2025-04-27T07:06:14Z,0", ""].join("\r\n");
    await Deno.writeTextFile(path, text);
    const journal = await Journal.open(path, { rotationSizeBytes: 0 });
    const [entry] = journal.pending();
    assert.equal(entry.event.userName, "Josh");
    await journal.setStatus(entry, SendStatus.Sent);
    await journal.append(event("next"));
    await journal.close();
    assert.equal(
      await Deno.readTextFile(path),
      text.replace(",0\r\n", ",1\r\n") + row(event("next"), 0),
    );
  });
});

Deno.test("journal rejects bad statuses and use after close; close is idempotent", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const journal = await Journal.open(path, { rotationSizeBytes: 0 });
    const entry = await journal.append(event("a"));
    await assert.rejects(journal.setStatus(entry, 0 as 1), RangeError);
    await assert.rejects(
      journal.append({ ...event("x"), eventType: "Login" as "Logon" }),
      TypeError,
    );
    const appending = journal.append(event("b"));
    const closing = journal.close();
    assert.equal((await appending).event.userName, "b", "close waits for queued operations");
    await closing;
    await journal.close();
    await assert.rejects(journal.append(event("c")), /closed/);
    await assert.rejects(journal.setStatus(entry, 1), /closed/);
    assert.equal((await readJournal(path)).entries.length, 2);
  });
});

Deno.test("journal oldestPending follows the queue across out-of-order settles, rotation and reopen", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    let journal = await Journal.open(path, { rotationSizeBytes: 400, keep: 1 });
    const entries = [];
    for (let i = 0; i < 8; i++) entries.push(await journal.append(event(`u${i}`, i)));
    assert.equal(journal.oldestPending()?.event.userName, "u0");
    await journal.setStatus(entries[2], 3);
    await journal.setStatus(entries[0], 1);
    assert.equal(journal.oldestPending()?.event.userName, "u1");
    await journal.setStatus(entries[1], 2);
    assert.equal(journal.oldestPending()?.event.userName, "u3", "u2 was settled out of order");
    for (let i = 8; i < 14; i++) await journal.append(event(`u${i}`, i)); // rotates
    assert.equal(journal.oldestPending()?.event.userName, "u3");
    assert.deepEqual(
      journal.pending().map((e) => e.event.userName)[0],
      journal.oldestPending()?.event.userName,
    );
    await journal.close();
    journal = await Journal.open(path, { rotationSizeBytes: 400, keep: 1 });
    assert.equal(journal.oldestPending()?.event.userName, "u3");
    for (const entry of journal.pending()) await journal.setStatus(entry, 1);
    assert.equal(journal.oldestPending(), undefined);
    await journal.close();
  });
});
