import assert from "node:assert/strict";
import { createWindowsPlatform } from "./platform.ts";

Deno.test({
  name: "the Windows platform loads on any OS and opens no library until a method needs one",
  ignore: Deno.build.os === "windows",
  async fn() {
    // Importing and creating it must not dlopen anything: kernel32.dll does not exist here.
    const platform = createWindowsPlatform();
    assert.equal(platform.name, "windows");
    assert.match(platform.defaultInstallDir(), /\\UserSessionMon$/);
    // The first method that needs a DLL is where loading fails, as a rejected promise.
    await assert.rejects(() => platform.secureFile("/nonexistent"));
    await assert.rejects(() => platform.serviceState());
  },
});
