import assert from "node:assert/strict";
import { DEFAULT_SYSTEM_BUS, systemBusAddress } from "./logind_bus.ts";

Deno.test("the system bus address follows DBUS_SYSTEM_BUS_ADDRESS", () => {
  assert.equal(systemBusAddress(() => undefined), DEFAULT_SYSTEM_BUS);
  assert.equal(systemBusAddress(() => " "), DEFAULT_SYSTEM_BUS);
  assert.equal(systemBusAddress(() => "unix:path=/tmp/bus"), "unix:path=/tmp/bus");
});
