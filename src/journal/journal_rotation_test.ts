import assert from "node:assert/strict";
import { join } from "node:path";
import { SendStatus } from "../event.ts";
import { Journal, type JournalEntry } from "./journal.ts";
import { readJournal } from "./read.ts";
import { archivePath } from "../log/rotation.ts";
import { event, HEADER, row } from "../../tests/support/journal_fixtures.ts";
import { listDir, withDir } from "../../tests/support/temp_dir.ts";

Deno.test("journal rotation carries pending rows, keeps `keep` archives and keeps entries valid", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const rowBytes = new TextEncoder().encode(row(event("user-00"), 0)).length;
    const journal = await Journal.open(path, {
      rotationSizeBytes: HEADER.length + 4 * rowBytes,
      keep: 2,
    });
    const entries = [];
    for (let i = 0; i < 4; i++) entries.push(await journal.append(event(`user-0${i}`, i)));
    await journal.setStatus(entries[0], SendStatus.Sent);
    await journal.setStatus(entries[2], SendStatus.Sent);
    // The fifth row would make the file too big: 01 and 03 are carried, 00 and 02 archived.
    const fifth = await journal.append(event("user-04", 4));
    assert.deepEqual(await listDir(dir), ["event_log.1.csv", "event_log.csv"]);
    const archive = await readJournal(archivePath(path, 1));
    assert.deepEqual(archive.entries.map((e) => [e.event.userName, e.status]), [
      ["user-00", 1],
      ["user-01", 0],
      ["user-02", 1],
      ["user-03", 0],
    ]);
    assert.equal(
      await Deno.readTextFile(path),
      HEADER + row(event("user-01", 1), 0) + row(event("user-03", 3), 0) +
        row(event("user-04", 4), 0),
    );
    // An entry handed out before the rotation still addresses its row in the new live file.
    await journal.setStatus(entries[3], SendStatus.Rejected);
    assert.deepEqual(journal.pending().map((e) => e.seq), [entries[1].seq, fifth.seq]);
    await journal.setStatus(entries[1], SendStatus.Sent);
    await journal.setStatus(fifth, SendStatus.Sent);
    // A settled row rotated out can no longer be addressed.
    await assert.rejects(journal.setStatus(entries[0], SendStatus.Sent), /no longer in/);
    // Two more rotations: the oldest archive is deleted, two are kept.
    for (let i = 5; i < 13; i++) {
      await journal.setStatus(await journal.append(event(`user-${i}`, i)), SendStatus.Sent);
    }
    await journal.close();
    assert.deepEqual(await listDir(dir), ["event_log.1.csv", "event_log.2.csv", "event_log.csv"]);
    const oldest = await readJournal(archivePath(path, 2));
    assert.ok(oldest.entries.every((e) => e.event.userName !== "user-00"));
  });
});

Deno.test("journal does not rotate while pending rows are most of the file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const journal = await Journal.open(path, { rotationSizeBytes: 200 });
    for (let i = 0; i < 10; i++) await journal.append(event(`user-${i}`, i));
    assert.deepEqual(await listDir(dir), ["event_log.csv"]);
    assert.equal(journal.pendingCount, 10);
    await journal.close();
  });
});

Deno.test("journal with keep 0 rotates without archives", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const journal = await Journal.open(path, { rotationSizeBytes: 300, keep: 0 });
    for (let i = 0; i < 10; i++) {
      await journal.setStatus(await journal.append(event(`user-${i}`, i)), SendStatus.Sent);
    }
    await journal.close();
    assert.deepEqual(await listDir(dir), ["event_log.csv"]);
    assert.ok((await Deno.stat(path)).size <= 300);
  });
});

Deno.test("a rotation that fails before moving anything keeps writing to the live file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const warnings: string[] = [];
    const journal = await Journal.open(path, {
      rotationSizeBytes: 300,
      onWarning: (message) => warnings.push(message),
    });
    // event_log.csv.next cannot be written (as on a full disk): a folder that is not empty.
    await Deno.mkdir(`${path}.next`);
    await Deno.writeTextFile(join(`${path}.next`, "x"), "x");
    for (let i = 0; i < 8; i++) {
      const entry = await journal.append(event(`user-${i}`, i));
      await journal.setStatus(entry, SendStatus.Sent);
    }
    assert.ok(
      warnings.some((w) => /Rotation of the journal .* failed/.test(w)),
      warnings.join("\n"),
    );
    assert.ok(
      !warnings.some((w) => /changed while the agent ran/.test(w)),
      `the live file was dropped and rebuilt:\n${warnings.join("\n")}`,
    );
    const { entries } = await readJournal(path);
    assert.equal(entries.length, 8);
    assert.ok(entries.every((e) => e.status === SendStatus.Sent));
    await journal.close();
  });
});

Deno.test("journal rotation bounds the live file while a backlog lasts: settled rows move out, pending rows stay", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const rotationSizeBytes = 1_000;
    const journal = await Journal.open(path, { rotationSizeBytes, keep: 100 });
    const encoder = new TextEncoder();
    const pending: JournalEntry[] = [];
    let rotated = 0;
    // A server that stores fewer events than are recorded: the backlog grows all along.
    for (let i = 0; i < 300; i++) {
      pending.push(await journal.append(event(`user-${i}`, i % 60)));
      const size = (await Deno.stat(path)).size;
      const pendingBytes = pending
        .map((entry) => encoder.encode(row(entry.event, 0)).length)
        .reduce((sum, bytes) => sum + bytes, 0);
      const bound = HEADER.length + pendingBytes +
        Math.max(rotationSizeBytes / 2, pendingBytes / 4) +
        encoder.encode(row(event(`user-${i}`), 0)).length;
      assert.ok(
        size <= Math.max(rotationSizeBytes, bound),
        `after event ${i}: ${size} bytes for ${pendingBytes} bytes pending`,
      );
      rotated = (await listDir(dir)).length - 1;
      if (i % 5 === 4) {
        for (const entry of pending.splice(0, 3)) await journal.setStatus(entry, SendStatus.Sent);
      }
    }
    assert.ok(rotated > 1, "settled rows were moved to archives");
    assert.deepEqual(journal.pending().map((e) => e.seq), pending.map((e) => e.seq));
    await journal.close();
    const { entries } = await readJournal(path);
    assert.deepEqual(
      entries.filter((e) => e.status === 0).map((e) => e.event.userName),
      pending.map((e) => e.event.userName),
    );
  });
});
