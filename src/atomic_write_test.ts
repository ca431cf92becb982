import assert from "node:assert/strict";
import { join } from "node:path";
import { isTemporaryName, temporaryPath, writeFileAtomic } from "./atomic_write.ts";

Deno.test("writeFileAtomic replaces the file and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "status.json");
    await writeFileAtomic(path, "one");
    await writeFileAtomic(path, new TextEncoder().encode("two"));
    assert.equal(await Deno.readTextFile(path), "two");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["status.json"]);
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic keeps an existing file's mode unless told otherwise", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "config.ini");
    await Deno.writeTextFile(path, "old", { mode: 0o640 });
    await Deno.chmod(path, 0o640);
    await writeFileAtomic(path, "new");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    await writeFileAtomic(path, "newer", { mode: 0o600 });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic removes its temporary file when the write fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "config.ini");
    await assert.rejects(
      writeFileAtomic(path, "x", { secure: () => Promise.reject(new Error("denied")) }),
      /denied/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isTemporaryName recognises only the write's own temporary names", () => {
  const name = temporaryPath("/x/config.ini").split("/").pop()!;
  assert.ok(isTemporaryName(name, "config.ini"));
  assert.ok(!isTemporaryName(name, "status.json"));
  assert.ok(!isTemporaryName(".config.ini.notes.tmp", "config.ini"));
  assert.ok(!isTemporaryName("config.ini", "config.ini"));
});
