import assert from "node:assert/strict";
import { PendingRows } from "./pending.ts";

Deno.test("pending rows follow adds and removals in any order, across compactions", () => {
  const rows = new PendingRows();
  const reference = new Map<number, { key: string; statusOffset: number; length: number }>();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let seq = 1;
  let offset = 0;
  for (let step = 0; step < 20_000; step++) {
    if (random() < 0.55 || reference.size === 0) {
      const key = `Lock,user-${seq},PC,10.0.0.1,Zoë ${seq}`;
      const length = new TextEncoder().encode(key).length + 3;
      offset += length;
      rows.add({ seq, recovered: seq % 3 === 0, statusOffset: offset - 2, length }, key);
      reference.set(seq, { key, statusOffset: offset - 2, length });
      seq++;
    } else {
      // Mostly the oldest ones (a drain), sometimes any (out-of-order settles).
      const keys = [...reference.keys()];
      const pick = random() < 0.7 ? keys[0] : keys[Math.floor(random() * keys.length)];
      assert.equal(rows.remove(pick), true);
      assert.equal(rows.remove(pick), false, "a row is removed once");
      reference.delete(pick);
    }
    if (step % 997 === 0) {
      assert.deepEqual([...rows].map((row) => row.seq), [...reference.keys()]);
    }
  }
  assert.equal(rows.count, reference.size);
  assert.equal(rows.bytes, [...reference.values()].reduce((sum, row) => sum + row.length, 0));
  assert.equal(rows.first()?.seq, [...reference.keys()][0]);
  for (const [s, expected] of reference) {
    const row = rows.get(s)!;
    assert.deepEqual(
      { key: row.key, statusOffset: row.statusOffset, length: row.length },
      expected,
    );
    assert.equal(row.recovered, s % 3 === 0);
  }
  assert.equal(rows.get(seq + 1), undefined);
});
