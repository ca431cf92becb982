import assert from "node:assert/strict";
import { join } from "node:path";
import { SendStatus, type SendStatusValue, type SessionEvent } from "../event.ts";
import { Journal, type JournalEntry } from "./journal.ts";
import { JOURNAL_HEADER, rowText } from "./format.ts";
import { readJournal } from "./read.ts";
import { archivePath } from "../log/rotation.ts";

const HEADER = JOURNAL_HEADER + "\n";

function event(userName: string, second = 0): SessionEvent {
  return {
    eventType: "Logon",
    userName,
    computerName: "DESKTOP-5D51HM9",
    ipAddress: "192.168.66.34",
    timestamp: `2025-04-27T08:06:${String(second).padStart(2, "0")}+01:00`,
  };
}

function row(e: SessionEvent, status: SendStatusValue): string {
  return rowText(e, status);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "journal_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

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

Deno.test("journal open truncates a torn last line and reports it", async (t) => {
  const complete = HEADER + row(event("a"), 1) + row(event("b"), 0);
  const encoder = new TextEncoder();
  const torn: Record<string, Uint8Array> = {
    "no line end": encoder.encode("Logon,c,PC,10.0.0.1,2025-04-27T08:06:14Z,0"),
    "half a row": encoder.encode("Logon,c,PC"),
    "a partial multi-byte letter": Uint8Array.of(0x5a, 0x6f, 0xc3), // "Zo" and half of "ë"
  };
  for (const [name, tailBytes] of Object.entries(torn)) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        const path = join(dir, "event_log.csv");
        const head = new TextEncoder().encode(complete);
        const bytes = new Uint8Array(head.length + tailBytes.length);
        bytes.set(head);
        bytes.set(tailBytes, head.length);
        await Deno.writeFile(path, bytes);
        const before = await readJournal(path);
        assert.equal(before.tornTail, true);
        assert.equal(before.entries.length, 2);
        assert.equal((await Deno.stat(path)).size, bytes.length, "readJournal changes nothing");
        const warnings: string[] = [];
        const journal = await Journal.open(path, {
          rotationSizeBytes: 0,
          onWarning: (w) => warnings.push(w),
        });
        assert.equal(warnings.length, 1);
        assert.ok(warnings[0].includes(path), warnings[0]);
        assert.ok(warnings[0].includes(`removed ${tailBytes.length} bytes`), warnings[0]);
        assert.equal(await Deno.readTextFile(path), complete);
        assert.deepEqual(journal.pending().map((e) => e.event.userName), ["b"]);
        await journal.append(event("e"));
        await journal.close();
        assert.equal(await Deno.readTextFile(path), complete + row(event("e"), 0));
      });
    });
  }
});

Deno.test("journal open moves aside a file with a quote left open before its last line end", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    const text = HEADER + row(event("a"), 1) + 'Logon,"c\n' + row(event("b"), 0);
    await Deno.writeTextFile(path, text);
    const warnings: string[] = [];
    const journal = await Journal.open(path, {
      rotationSizeBytes: 0,
      onWarning: (w) => warnings.push(w),
    });
    assert.deepEqual(journal.pending().map((e) => e.event.userName), ["b"]);
    await journal.close();
    assert.match(warnings.join("\n"), /quoted field opened in row 3 is never closed/);
    const aside = (await listDir(dir)).find((name) => name.includes("unreadable"))!;
    assert.equal(await Deno.readTextFile(join(dir, aside)), text, "the damaged file is kept whole");
  });
});

Deno.test("journal open finishes or undoes an interrupted rotation", async (t) => {
  const oldLive = HEADER + row(event("a"), 1) + row(event("b"), 0) + row(event("c"), 2);
  const next = HEADER + row(event("b"), 0);

  await t.step("live file and a partial .next: .next is deleted", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "event_log.csv");
      await Deno.writeTextFile(path, oldLive);
      await Deno.writeTextFile(path + ".next", next.slice(0, 30));
      const warnings: string[] = [];
      const journal = await Journal.open(path, {
        rotationSizeBytes: 0,
        onWarning: (w) => warnings.push(w),
      });
      assert.deepEqual(await listDir(dir), ["event_log.csv"]);
      assert.equal(await Deno.readTextFile(path), oldLive);
      assert.deepEqual(journal.pending().map((e) => e.event.userName), ["b"]);
      assert.match(warnings.join("\n"), /Removed .*event_log\.csv\.next/);
      await journal.close();
    });
  });

  await t.step("live file, complete .next and half-shifted archives: nothing lost", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "event_log.csv");
      await Deno.writeTextFile(path, oldLive);
      await Deno.writeTextFile(path + ".next", next);
      // Crash while shifting: .2 already became .3, .1 not yet moved to .2.
      await Deno.writeTextFile(archivePath(path, 1), HEADER + row(event("arch1"), 1));
      await Deno.writeTextFile(archivePath(path, 3), HEADER + row(event("arch2"), 1));
      const journal = await Journal.open(path, { rotationSizeBytes: 1, keep: 5 });
      assert.deepEqual(await listDir(dir), ["event_log.1.csv", "event_log.3.csv", "event_log.csv"]);
      await journal.append(event("d")); // rotates: a and c are settled
      await journal.close();
      assert.deepEqual(await listDir(dir), [
        "event_log.1.csv",
        "event_log.2.csv",
        "event_log.4.csv",
        "event_log.csv",
      ]);
      assert.equal(await Deno.readTextFile(archivePath(path, 1)), oldLive);
      assert.equal((await readJournal(archivePath(path, 2))).entries[0].event.userName, "arch1");
      assert.equal((await readJournal(archivePath(path, 4))).entries[0].event.userName, "arch2");
      assert.equal(await Deno.readTextFile(path), next + row(event("d"), 0));
    });
  });

  await t.step("no live file and a complete .next: .next becomes the live file", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "event_log.csv");
      await Deno.writeTextFile(archivePath(path, 1), oldLive);
      await Deno.writeTextFile(path + ".next", next);
      const warnings: string[] = [];
      const journal = await Journal.open(path, {
        rotationSizeBytes: 0,
        onWarning: (w) => warnings.push(w),
      });
      assert.deepEqual(await listDir(dir), ["event_log.1.csv", "event_log.csv"]);
      assert.equal(await Deno.readTextFile(path), next);
      assert.deepEqual(journal.pending().map((e) => e.event.userName), ["b"]);
      assert.match(warnings.join("\n"), /Finished an interrupted rotation/);
      await journal.close();
    });
  });

  await t.step("no live file and a .next with a torn header: a new journal", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "event_log.csv");
      await Deno.writeTextFile(path + ".next", HEADER.slice(0, 20));
      const journal = await Journal.open(path, { rotationSizeBytes: 0 });
      assert.deepEqual(await listDir(dir), ["event_log.csv"]);
      assert.equal(await Deno.readTextFile(path), HEADER);
      await journal.close();
    });
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

Deno.test("journal moves a file with another header aside and skips malformed rows", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    await Deno.writeTextFile(path, "time,user\n1,2\n" + row(event("kept"), 0));
    const moved: string[] = [];
    const first = await Journal.open(path, {
      rotationSizeBytes: 0,
      now: () => Date.UTC(2026, 10, 25, 14, 0, 0),
      onWarning: (w) => moved.push(w),
    });
    assert.deepEqual(first.pending().map((e) => e.event.userName), ["kept"]);
    await first.close();
    assert.match(
      moved.join("\n"),
      /Moved the unreadable journal .* to .*event_log\.unreadable-20261125T140000Z\.csv \(its first line is not the journal's header\)/,
    );
    assert.equal(
      await Deno.readTextFile(join(dir, "event_log.unreadable-20261125T140000Z.csv")),
      "time,user\n1,2\n" + row(event("kept"), 0),
    );
    await Deno.writeTextFile(
      path,
      HEADER + "Logon,a,b\n" + row(event("ok"), 0) + "Nap,x,y,z,t,0\n",
    );
    const warnings: string[] = [];
    const journal = await Journal.open(path, {
      rotationSizeBytes: 0,
      onWarning: (w) => warnings.push(w),
    });
    assert.deepEqual(journal.pending().map((e) => e.event.userName), ["ok"]);
    assert.equal(warnings.length, 2);
    await journal.close();
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

Deno.test("journal notices a replaced, moved or truncated file before its next write", async (t) => {
  const cases: Record<string, (path: string) => Promise<void>> = {
    "replaced by an edited copy (sed -i)": async (path) => {
      const text = await Deno.readTextFile(path);
      await Deno.writeTextFile(path + ".sed", text.replace(/^Logon,a,.*\n/m, ""));
      await Deno.rename(path + ".sed", path);
    },
    "moved away (mv)": (path) => Deno.rename(path, path + ".old"),
    "truncated (: >)": (path) => Deno.truncate(path, 0),
  };
  for (const [name, change] of Object.entries(cases)) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        const path = join(dir, "event_log.csv");
        const warnings: string[] = [];
        const journal = await Journal.open(path, {
          rotationSizeBytes: 0,
          onWarning: (w) => warnings.push(w),
        });
        const a = await journal.append(event("a", 1));
        await journal.setStatus(a, SendStatus.Sent);
        const b = await journal.append(event("b", 2));
        await change(path);
        await journal.append(event("c", 3));
        await journal.setStatus(b, SendStatus.Sent);
        await journal.close();
        assert.match(warnings.join("\n"), /changed while the agent ran/);
        const rows = (await readJournal(path)).entries.map((e) => `${e.event.userName}${e.status}`);
        assert.ok(rows.includes("b1") && rows.includes("c0"), rows.join(" "));
      });
    });
  }
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
