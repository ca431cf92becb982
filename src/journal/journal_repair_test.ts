import assert from "node:assert/strict";
import { join } from "node:path";
import { SendStatus } from "../event.ts";
import { Journal } from "./journal.ts";
import { readJournal } from "./read.ts";
import { archivePath } from "../log/rotation.ts";
import { event, HEADER, row } from "../../tests/support/journal_fixtures.ts";
import { listDir, withDir } from "../../tests/support/temp_dir.ts";

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
