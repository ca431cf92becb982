import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic_write.ts";
import { NotRegularFileError, openRegular, openRegularSync, readRegularFile } from "./no_follow.ts";
import { withDir } from "../tests/support/temp_dir.ts";

Deno.test({
  name: "files the agent writes are never opened through a link, a folder or a FIFO",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withDir(async (dir) => {
      const victim = join(dir, "victim.txt");
      await Deno.writeTextFile(victim, "precious");
      const link = join(dir, "error.log");
      await Deno.symlink(victim, link);
      await assert.rejects(
        openRegular(link, { append: true, create: true }),
        (error: Error) =>
          error instanceof NotRegularFileError &&
          error.message ===
            `Refusing to use ${link}: it is a symbolic link to ${victim}, not a regular file; remove it or move it aside`,
      );
      assert.throws(
        () => openRegularSync(link, { append: true, create: true }),
        NotRegularFileError,
      );
      await assert.rejects(writeFileAtomic(link, "x"), /symbolic link/);
      assert.equal(await Deno.readTextFile(victim), "precious");

      await Deno.mkdir(join(dir, "folder"));
      await assert.rejects(openRegular(join(dir, "folder"), { write: true }), /it is a folder/);

      const fifo = join(dir, "config.ini");
      assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
      await assert.rejects(readRegularFile(fifo), /it is a named pipe \(FIFO\)/);

      const fresh = await openRegular(join(dir, "new.log"), { append: true, create: true });
      fresh.close();
      assert.ok((await Deno.lstat(join(dir, "new.log"))).isFile);
    });
  },
});

Deno.test({
  name: "an atomic write with throughLink writes the link's target and keeps the link",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withDir(async (dir) => {
      const target = join(dir, "real.ini");
      await Deno.writeTextFile(target, "old");
      const link = join(dir, "config.ini");
      await Deno.symlink(target, link);
      await writeFileAtomic(link, "new", { throughLink: true });
      assert.ok((await Deno.lstat(link)).isSymlink);
      assert.equal(await Deno.readTextFile(target), "new");
      await Deno.remove(target);
      await assert.rejects(
        writeFileAtomic(link, "x", { throughLink: true }),
        /which does not exist/,
      );
    });
  },
});
