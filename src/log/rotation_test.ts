import assert from "node:assert/strict";
import { join } from "node:path";
import {
  archiveFile,
  archiveFileSync,
  archiveNumbers,
  archivePath,
  pruneArchives,
  shiftSteps,
} from "./rotation.ts";
import { withDir } from "../../tests/support/temp_dir.ts";

/** The files of `dir` with their contents, sorted by name. */
async function contents(dir: string): Promise<[string, string][]> {
  const files: [string, string][] = [];
  for await (const entry of Deno.readDir(dir)) {
    files.push([entry.name, await Deno.readTextFile(join(dir, entry.name))]);
  }
  return files.sort(([a], [b]) => a < b ? -1 : 1);
}

Deno.test("archivePath numbers before the extension for the journal, after the name for logs", () => {
  assert.equal(archivePath("/d/event_log.csv", 1), "/d/event_log.1.csv");
  assert.equal(archivePath("/d/event_log.csv", 12, "before-extension"), "/d/event_log.12.csv");
  assert.equal(archivePath("/d/session_monitor.log", 2, "appended"), "/d/session_monitor.log.2");
  assert.equal(archivePath("/d/journal", 3), "/d/journal.3");
});

Deno.test("shiftSteps moves the highest archive first and deletes those past keep", () => {
  assert.deepEqual(shiftSteps([1, 3, 2], 3), [
    { from: 3, to: null },
    { from: 2, to: 3 },
    { from: 1, to: 2 },
  ]);
  assert.deepEqual(shiftSteps([1], 0), [{ from: 1, to: null }]);
  assert.deepEqual(shiftSteps([], 5), []);
});

Deno.test("archiveFile shifts every numbered archive in the folder and prunes past keep", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "event_log.csv");
    for (
      const [name, text] of [
        ["event_log.csv", "live"],
        ["event_log.1.csv", "one"],
        ["event_log.3.csv", "three"],
        ["event_log.x.csv", "not an archive"],
        ["other.1.csv", "not ours"],
      ]
    ) await Deno.writeTextFile(join(dir, name), text);
    assert.deepEqual(await archiveNumbers(path), [3, 1]);
    await archiveFile(path, { keep: 3 });
    assert.deepEqual(await contents(dir), [
      ["event_log.1.csv", "live"],
      ["event_log.2.csv", "one"],
      ["event_log.x.csv", "not an archive"],
      ["other.1.csv", "not ours"],
    ]);
    await pruneArchives(path, { keep: 1 });
    assert.deepEqual(await archiveNumbers(path), [1]);
  });
});

Deno.test("archiveFileSync rotates a log as it always did: archives below keep move up", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "session_monitor.log");
    const options = { keep: 3, naming: "appended" as const };
    await Deno.writeTextFile(path, "a");
    archiveFileSync(path, options);
    await Deno.writeTextFile(path, "b");
    archiveFileSync(path, options);
    await Deno.writeTextFile(path, "c");
    archiveFileSync(path, options);
    await Deno.writeTextFile(path, "d");
    archiveFileSync(path, options);
    assert.deepEqual(await contents(dir), [
      ["session_monitor.log.1", "d"],
      ["session_monitor.log.2", "c"],
      ["session_monitor.log.3", "b"],
    ]);
    // A gap is skipped, archive `keep` is replaced only by the one below it, higher ones are left.
    await Deno.remove(`${path}.2`);
    await Deno.writeTextFile(`${path}.5`, "five");
    await Deno.writeTextFile(path, "e");
    archiveFileSync(path, options);
    assert.deepEqual(await contents(dir), [
      ["session_monitor.log.1", "e"],
      ["session_monitor.log.2", "d"],
      ["session_monitor.log.3", "b"],
      ["session_monitor.log.5", "five"],
    ]);
  });
});
