import assert from "node:assert/strict";
import { removeTemporaries } from "../atomic_write.ts";
import { TEMPORARY_TARGETS } from "../agent/startup.ts";
import { join } from "node:path";
import { aliveText, parseAlive, readAlive, writeAlive } from "./alive.ts";

Deno.test("sessions.json round-trips through a real file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const record = {
      aliveAt: Date.UTC(2025, 0, 14, 12),
      open: ["alice", "Jürgen"],
      disconnected: ["bob"],
    };
    await writeAlive(dir, record);
    assert.deepEqual(await readAlive(dir, () => assert.fail("no warning")), record);
    assert.equal(
      await Deno.readTextFile(join(dir, "sessions.json")),
      '{"format":1,"aliveAt":"2025-01-14T12:00:00Z","open":["alice","Jürgen"],"disconnected":["bob"]}\n',
    );
    assert.equal(aliveText(record), await Deno.readTextFile(join(dir, "sessions.json")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing sessions.json is no error; a damaged one is ignored with a reason", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const warnings: string[] = [];
    assert.equal(await readAlive(dir, (m) => warnings.push(m)), undefined);
    assert.equal(warnings.length, 0);
    await Deno.writeTextFile(join(dir, "sessions.json"), '{"format":1,"aliveAt":"soon"');
    assert.equal(await readAlive(dir, (m) => warnings.push(m)), undefined);
    assert.match(warnings[0], /Ignored .*sessions\.json: not JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseAlive names what is wrong", async (t) => {
  const cases: [string, RegExp][] = [
    ["[]", /not a JSON object/],
    ['{"format":2}', /unknown format 2/],
    ['{"format":1,"aliveAt":"yesterday"}', /"aliveAt" is not an RFC 3339 instant/],
    [
      '{"format":1,"aliveAt":"2025-01-14T12:00:00Z","open":[1]}',
      /"open" is not a list of user names/,
    ],
  ];
  for (const [text, message] of cases) {
    await t.step(text, () => assert.throws(() => parseAlive(text), message));
  }
});

Deno.test("temporaries of a sessions.json write that a kill interrupted are removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const left = join(dir, `.sessions.json.${crypto.randomUUID()}.tmp`);
    await Deno.writeTextFile(left, "{");
    await Deno.writeTextFile(join(dir, "other.tmp"), "x");
    await removeTemporaries(dir, TEMPORARY_TARGETS);
    await assert.rejects(() => Deno.stat(left), Deno.errors.NotFound);
    await Deno.stat(join(dir, "other.tmp"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
