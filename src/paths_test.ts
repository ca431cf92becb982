import assert from "node:assert/strict";
import { join } from "node:path";
import { fileAbove } from "./paths.ts";

Deno.test("fileAbove names the file that stands where a folder of the path should be", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "");
    assert.equal(await fileAbove(join(file, "config.ini")), file);
    assert.equal(await fileAbove(join(file, "sub", "deeper", "config.ini")), file);
    assert.equal(await fileAbove(join(dir, "missing", "config.ini")), undefined);
    assert.equal(await fileAbove(join(dir, "config.ini")), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
