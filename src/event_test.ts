import assert from "node:assert/strict";
import { eventTypeOf, formatTimestamp } from "./event.ts";

Deno.test("formatTimestamp writes whole seconds with the zone's offset", async (t) => {
  const cases: [string, string, string][] = [
    ["2025-04-27T07:06:14.999Z", "Europe/London", "2025-04-27T08:06:14+01:00"],
    ["2025-01-27T07:06:14Z", "Europe/London", "2025-01-27T07:06:14Z"],
    ["2025-04-27T07:06:14Z", "UTC", "2025-04-27T07:06:14Z"],
    ["2025-04-27T07:06:14Z", "Asia/Kolkata", "2025-04-27T12:36:14+05:30"],
    ["2025-04-27T07:06:14Z", "America/New_York", "2025-04-27T03:06:14-04:00"],
  ];
  for (const [instant, zone, expected] of cases) {
    await t.step(`${instant} in ${zone}`, () => {
      assert.equal(formatTimestamp(Temporal.Instant.from(instant), zone), expected);
    });
  }
});

Deno.test("eventTypeOf spells the types as the server stores them", () => {
  assert.deepEqual(
    (["logon", "logoff", "lock", "unlock"] as const).map(eventTypeOf),
    ["Logon", "Logoff", "Lock", "Unlock"],
  );
});
