import assert from "node:assert/strict";
import { checkStatus, unwrap, Win32Error } from "./error.ts";

Deno.test("Win32Error names the function, the code and the system message", () => {
  const error = new Win32Error("OpenServiceW", 1060, {
    systemMessage: "The specified service does not exist as an installed service",
  });
  assert.equal(error.name, "Win32Error");
  assert.equal(error.code, 1060);
  assert.equal(error.functionName, "OpenServiceW");
  assert.equal(
    error.message,
    "OpenServiceW failed: The specified service does not exist as an installed service (error 1060)",
  );
  assert.ok(error instanceof Error);
});

Deno.test("unwrap() passes successful results through without touching the system", () => {
  assert.equal(unwrap("SetServiceStatus", 1), 1);
  assert.equal(unwrap("QueryServiceStatusEx", -1), -1);
  assert.equal(unwrap("X", 5n), 5n);
  const pointer = Deno.UnsafePointer.of(new Uint8Array(1));
  assert.equal(unwrap("OpenSCManagerW", pointer), pointer);
  checkStatus("SetNamedSecurityInfoW", 0);
});

Deno.test({
  name: "unwrap() throws Win32Error with GetLastError's code (Windows)",
  ignore: Deno.build.os !== "windows",
  fn() {
    assert.throws(() => unwrap("CloseHandle", 0), (error: unknown) => {
      assert.ok(error instanceof Win32Error);
      assert.equal(error.functionName, "CloseHandle");
      return true;
    });
    assert.throws(() => checkStatus("SetNamedSecurityInfoW", 5), /error 5\)/);
  },
});
