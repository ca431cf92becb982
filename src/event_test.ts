import assert from "node:assert/strict";
import {
  EVENT_TYPES,
  eventKey,
  eventKeyFields,
  eventTypeOf,
  formatTimestamp,
  isEventType,
  SendStatus,
  type SessionEvent,
} from "./event.ts";

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

Deno.test("EVENT_TYPES is the server's list and isEventType matches it exactly", () => {
  assert.deepEqual(EVENT_TYPES, ["Logon", "Logoff", "Lock", "Unlock"]);
  assert.ok(EVENT_TYPES.every(isEventType));
  assert.ok(!isEventType("logon"));
  assert.ok(!isEventType("Login"));
});

Deno.test("eventKey is the five fields of the server's duplicate key, in its order", () => {
  const event: SessionEvent = {
    eventType: "Lock",
    userName: 'O\'Neil, "JJ"',
    computerName: "PC",
    ipAddress: "10.0.0.1",
    timestamp: "2025-04-27T08:06:14+01:00",
  };
  assert.deepEqual(eventKeyFields(event), [
    "Lock",
    'O\'Neil, "JJ"',
    "PC",
    "10.0.0.1",
    "2025-04-27T08:06:14+01:00",
  ]);
  assert.equal(eventKey(event), JSON.stringify(eventKeyFields(event)));
  assert.equal(eventKey({ ...event }), eventKey(event));
  assert.notEqual(eventKey({ ...event, timestamp: "2025-04-27T08:06:15+01:00" }), eventKey(event));
});

Deno.test("SendStatus holds the send_status digits of event_log.csv", () => {
  assert.deepEqual(SendStatus, { Pending: 0, Sent: 1, SentOnRetry: 2, Rejected: 3 });
});
