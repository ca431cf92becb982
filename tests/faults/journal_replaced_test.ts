/**
 * Two journal faults, through a real agent process and the server double.
 *
 * The journal replaced (`sed -i`, `mv`) or truncated (`: >`) while the agent runs. The
 * agent notices before its next write and rebuilds the journal at the path from what the path
 * holds and every pending event of its own: the events recorded before and after the change all
 * reach the server, exactly once, even across a restart.
 *
 * A quoted status (`,"0"`) is rewritten through the journal's safe path instead of
 * getting its one-byte status write on the quote, and no complete row is ever cut.
 */
import assert from "node:assert/strict";
import {
  AgentProcess,
  change,
  errorLog,
  FaultBench,
  HEADER,
  journalRows,
  row,
} from "./journal_fault_support.ts";

async function sh(script: string, cwd: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("sh", {
    args: ["-c", script],
    cwd,
    stderr: "piped",
  })
    .output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
}

const CHANGES: Record<string, { script: string; said: RegExp }> = {
  "replaced by sed -i": {
    script: "sed -i 's/PC-/PC-/' event_log.csv",
    said: /changed while the agent ran \(another file replaced it\)/,
  },
  "moved away by mv": {
    script: "mv event_log.csv event_log.saved.csv",
    said: /changed while the agent ran \(it was moved away or deleted\)/,
  },
  "truncated by : >": {
    script: ": > event_log.csv",
    said: /changed while the agent ran \(it was truncated to 0 bytes\)/,
  },
};

Deno.test("a journal replaced, moved or truncated while the agent runs loses no event", async (t) => {
  const bench = await FaultBench.start();
  try {
    for (const [name, { script, said }] of Object.entries(CHANGES)) {
      await t.step(name, async () => {
        const { dir, config } = await bench.folder();
        const tag = name.split(" ")[0];
        // The server fails every event: they stay pending in the journal through the change.
        bench.server.setMode("error500");
        const first = AgentProcess.start(config);
        try {
          await first.ready();
          await first.feed(change(`${tag}-1`, 1), change(`${tag}-2`, 2));
          await first.waitForLine(new RegExp(`Lock of ${tag}-2`));
          await sh(script, dir);
          await first.feed(change(`${tag}-3`, 3));
          await first.waitForLine(said);
        } finally {
          assert.equal((await first.stop()).code, 0);
        }
        const rows = (await journalRows(dir)).map((r) => `${r.event.userName}:${r.status}`);
        assert.deepEqual(rows, [`${tag}-1:0`, `${tag}-2:0`, `${tag}-3:0`]);
        assert.match(await errorLog(dir), said);

        bench.server.setMode("ok");
        const second = AgentProcess.start(config);
        try {
          await second.ready();
          await bench.expectStored([`${tag}-1`, `${tag}-2`, `${tag}-3`]);
        } finally {
          assert.equal((await second.stop()).code, 0);
        }
      });
    }
  } finally {
    await bench.stop();
  }
});

Deno.test("a quoted status is rewritten, not written over its quote, and no complete row is cut", async () => {
  const bench = await FaultBench.start();
  try {
    const { dir, config, eventLog } = await bench.folder();
    const quoted = row("quoted", 0).replace(/,0\n$/, ',"0"\n');
    await Deno.writeTextFile(
      eventLog,
      HEADER + quoted + row("after-1", 0, 1) + row("after-2", 1, 2),
    );
    for (let run = 0; run < 2; run++) {
      const agent = AgentProcess.start(config);
      try {
        await agent.ready();
        if (run === 0) {
          await bench.expectStored(["quoted", "after-1"]);
        } else {
          await agent.feed(change("later"));
          await bench.expectStored(["quoted", "after-1", "later"]);
        }
      } finally {
        assert.equal((await agent.stop()).code, 0);
      }
      // Sent: 1, or 2 (sent on retry) for a row loaded from disk at start.
      const rows = (await journalRows(dir)).map((r) =>
        `${r.event.userName}:${r.status === 1 || r.status === 2 ? "sent" : r.status}`
      );
      assert.deepEqual(
        rows.slice(0, 3),
        ["quoted:sent", "after-1:sent", "after-2:sent"],
        `run ${run}: every row kept`,
      );
    }
    assert.match(await errorLog(dir), /Rewrote the journal .*could not be updated in place/);
  } finally {
    await bench.stop();
  }
});
