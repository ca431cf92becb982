import assert from "node:assert/strict";
import { RELOAD_CONTROL } from "../../src/windows/svc/service_status.ts";
import {
  decodeTestControl,
  encodeTestControl,
  TEST_CONTROL_FIRST,
  TEST_CONTROL_LAST,
} from "./test_controls.ts";

Deno.test("test controls cover the four session changes for sessions 1..31 and nothing else", () => {
  assert.equal(decodeTestControl(RELOAD_CONTROL), undefined);
  assert.equal(decodeTestControl(TEST_CONTROL_FIRST - 1), undefined);
  assert.equal(decodeTestControl(TEST_CONTROL_LAST + 1), undefined);
  assert.deepEqual(decodeTestControl(129), { wtsCode: 5, session: 1 });
  assert.deepEqual(decodeTestControl(132), { wtsCode: 8, session: 1 });
  assert.deepEqual(decodeTestControl(133), { wtsCode: 5, session: 2 });
  assert.deepEqual(decodeTestControl(252), { wtsCode: 8, session: 31 });
  for (let wts = 5; wts <= 8; wts++) {
    for (let session = 1; session <= 31; session++) {
      const control = encodeTestControl(wts, session);
      assert.ok(control >= 129 && control <= 252);
      assert.deepEqual(decodeTestControl(control), { wtsCode: wts, session });
    }
  }
  assert.throws(() => encodeTestControl(4, 1), RangeError);
  assert.throws(() => encodeTestControl(5, 0), RangeError);
  assert.throws(() => encodeTestControl(5, 32), RangeError);
});

Deno.test("a release build holds no test control: mod.ts's module graph never reaches them", async () => {
  const root = new URL("../../", import.meta.url);
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("mod.ts", root).href],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(success, "deno info mod.ts");
  const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  const specifiers = graph.modules.map((m) => m.specifier);
  assert.ok(specifiers.some((s) => s.endsWith("/src/windows/svc/service_host.ts")), "host bundled");
  const testModules = specifiers.filter((s) => s.includes("/tests/"));
  assert.deepEqual(testModules, [], "no module under tests/ in the release build");
  // The test build's entry does reach them.
  const test = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("tests/windows/test_build.ts", root).href],
    stdout: "piped",
    stderr: "null",
  }).output();
  const testGraph = JSON.parse(new TextDecoder().decode(test.stdout)) as typeof graph;
  assert.ok(testGraph.modules.some((m) => m.specifier.endsWith("/tests/windows/test_controls.ts")));
});
