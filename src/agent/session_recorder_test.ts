import assert from "node:assert/strict";
import { join } from "node:path";
import type { SessionChange, SessionSink, SessionSource } from "../platform.ts";
import { createPosixPlatform } from "../posix.ts";
import { Agent } from "./agent.ts";

/** A source whose changes the test hands over itself. */
class HandSource implements SessionSource {
  sink: SessionSink | undefined;
  #closed = Promise.withResolvers<void>();
  run(sink: SessionSink): Promise<void> {
    this.sink = sink;
    return this.#closed.promise;
  }
  close(): void {
    this.#closed.resolve();
  }
}

function change(type: SessionChange["type"], atMs: number): SessionChange {
  return { type, user: "alice", session: 2, at: Temporal.Instant.fromEpochMilliseconds(atMs) };
}

function newAgent(dir: string, lines: string[]): Agent {
  return new Agent({
    configPath: join(dir, "config.ini"),
    platform: createPosixPlatform(),
    version: "1.0.0",
    watchConfig: false,
    echo: (line) => lines.push(line),
  });
}

const T = Date.UTC(2026, 10, 25, 8, 0, 0);

Deno.test("the start buffer: changes during the start wait for the journal, then go in order with their time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-recorder-" });
  try {
    const agent = newAgent(dir, []);
    const source = new HandSource();
    agent.listen(source);
    const first = source.sink!(change("logon", T));
    const second = source.sink!(change("lock", T + 1_000));
    const starting = agent.start({ deferNetwork: true });
    await Promise.all([first, second, starting]);
    const rows = (await Deno.readTextFile(join(dir, "event_log.csv"))).trim().split("\n").slice(1);
    assert.equal(rows.length, 2);
    assert.match(rows[0], /Logon,alice,.*2026-11-25T08:00:00/);
    assert.match(rows[1], /Lock,alice,.*2026-11-25T08:00:01/);
    await agent.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the start buffer: a start that fails drops the changes received meanwhile and says how many", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usm-recorder-" });
  try {
    const running = newAgent(dir, []);
    await running.start({ deferNetwork: true }); // holds the folder's lock
    const lines: string[] = [];
    const second = newAgent(dir, lines);
    const source = new HandSource();
    second.listen(source);
    const recorded = source.sink!(change("logon", T));
    await assert.rejects(second.start({ deferNetwork: true }));
    await recorded;
    assert.ok(
      lines.some((l) =>
        l.includes(
          "1 session change(s) received during the start are lost: the journal could not be opened",
        )
      ),
      lines.join("\n"),
    );
    await running.stop();
    const rows = (await Deno.readTextFile(join(dir, "event_log.csv"))).trim().split("\n");
    assert.equal(rows.length, 1, "only the header: the lost change was not written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
