/**
 * An event_log.csv the agent cannot parse at start never stops it from
 * recording. A UTF-8 BOM is accepted; anything else unreadable is moved aside (error.log says
 * where and why), its readable pending rows are carried into a new journal and sent, and the
 * agent goes on recording. Each variant through a real agent process and the server double.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AgentProcess,
  change,
  errorLog,
  FaultBench,
  HEADER,
  namesIn,
  row,
} from "./journal_fault_support.ts";

const encoder = new TextEncoder();

function concat(...parts: (string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? encoder.encode(p) : p);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

interface Variant {
  /** Puts the broken journal in place at `eventLog`. */
  make(eventLog: string): Promise<void>;
  /** Pending users the broken file holds, which must reach the server. */
  pending: string[];
  /** What error.log must say (undefined: nothing is moved aside). */
  said?: RegExp;
}

const VARIANTS: Record<string, Variant> = {
  "a UTF-8 BOM (Excel's CSV UTF-8) is accepted as it is": {
    make: (path) =>
      Deno.writeFile(path, concat("\uFEFF" + HEADER, row("bom-sent", 1), row("bom-pending", 0, 1))),
    pending: ["bom-pending"],
  },
  "a stray quote in an old row": {
    make: (path) =>
      Deno.writeTextFile(
        path,
        HEADER + row("quote-sent", 1) + 'Logon,"broken,PC-1,10.0.0.1,2025-04-27T07:00:05Z,1\n' +
          row("quote-pending", 0, 2),
      ),
    pending: ["quote-pending"],
    said: /\(Invalid journal .*: a quoted field opened in row 3 is never closed\)/,
  },
  "a byte that is not UTF-8 in an old row": {
    make: (path) =>
      Deno.writeFile(
        path,
        concat(
          HEADER,
          "Logon,caf",
          Uint8Array.of(0xe9), // Latin-1 é
          ",PC-1,10.0.0.1,2025-04-27T07:00:06Z,1\n",
          row("latin-pending", 0, 3),
        ),
      ),
    pending: ["latin-pending"],
    said: /\(Invalid journal .*: the file is not UTF-8\)/,
  },
  "NUL bytes at its start (`: >` or copytruncate while an agent wrote)": {
    make: (path) => Deno.writeFile(path, concat(new Uint8Array(300), row("nul-pending", 0, 4))),
    pending: ["nul-pending"],
    said: /\(it starts with NUL bytes/,
  },
  "a folder in its place": {
    make: async (path) => {
      await Deno.mkdir(path);
      await Deno.writeTextFile(join(path, "keep.txt"), "someone's file");
    },
    pending: [],
    said: /\(it is a folder\)/,
  },
};

Deno.test("an unreadable event_log.csv at start is moved aside and the agent goes on recording", async (t) => {
  const bench = await FaultBench.start();
  try {
    for (const [name, variant] of Object.entries(VARIANTS)) {
      await t.step(name, async () => {
        const { dir, config, eventLog } = await bench.folder();
        await variant.make(eventLog);
        const before = await Deno.lstat(eventLog);
        const agent = AgentProcess.start(config);
        try {
          await agent.ready();
          const fresh = `after-${name.split(" ")[1]}`;
          await agent.feed(change(fresh));
          await bench.expectStored([...variant.pending, fresh]);
        } finally {
          assert.equal((await agent.stop()).code, 0, agent.lines.slice(-20).join("\n"));
        }
        const aside = await namesIn(dir, /^event_log\.unreadable-\d{8}T\d{6}Z\.csv$/);
        const said = await errorLog(dir);
        if (variant.said === undefined) {
          assert.deepEqual(aside, [], "nothing moved aside");
          assert.doesNotMatch(said, /unreadable/);
          return;
        }
        assert.equal(aside.length, 1, `moved aside once: ${aside}`);
        assert.match(
          said,
          new RegExp(`Moved the unreadable journal ${eventLog} to ${join(dir, aside[0])}`),
        );
        assert.match(said, variant.said);
        const moved = await Deno.lstat(join(dir, aside[0]));
        assert.equal(moved.isDirectory, before.isDirectory, "the file itself was moved aside");
        if (moved.isFile) assert.equal(moved.size, before.size, "moved aside unchanged");
      });
    }
  } finally {
    await bench.stop();
  }
});
