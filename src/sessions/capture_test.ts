import assert from "node:assert/strict";
import { captureEvent, clip, COLUMN_LIMITS, describeUser } from "./capture.ts";
import type { ReportedChange } from "../platform.ts";

const at = Temporal.Instant.from("2026-11-25T10:20:30.900Z");

Deno.test("capture clips user and computer names to the server's column limits", () => {
  const event = captureEvent(
    { type: "logon", user: "u".repeat(60), session: 1, at },
    { computerName: "c".repeat(70), ipv4: "10.0.0.5" },
    "UTC",
  );
  assert.equal(event.userName.length, COLUMN_LIMITS.userName);
  assert.equal(event.computerName.length, COLUMN_LIMITS.computerName);
  assert.equal(event.ipAddress, "10.0.0.5");
  assert.equal(event.eventType, "Logon");
  assert.equal(event.timestamp, "2026-11-25T10:20:30Z");
  assert.equal(clip("abc", 5), "abc");
  assert.equal(clip("abcdef", 5), "abcde");
});

Deno.test("capture marks a user that could not be resolved and keeps the domain local", () => {
  const change: ReportedChange = { type: "lock", user: "  ", session: 2, at };
  const event = captureEvent(change, { computerName: "PC", ipv4: "0.0.0.0" }, "UTC");
  assert.equal(event.userName, "(unknown)");
  assert.equal(describeUser({ ...change, user: "" }), "(unknown)");
  assert.equal(describeUser({ ...change, user: "ann", domain: "CORP" }), "CORP\\ann");
  assert.equal(describeUser({ ...change, user: "ann" }), "ann");
});

Deno.test("clip counts code points, never halves a surrogate pair, and mends lone surrogates", () => {
  const emoji = "😀";
  assert.equal(clip("a".repeat(49) + emoji + "b", 50), "a".repeat(49) + emoji);
  assert.equal(clip(emoji.repeat(60), 50), emoji.repeat(50), "50 characters as the server counts");
  assert.equal(clip("ab\uD83Dcd", 50), "ab\uFFFDcd", "a lone surrogate becomes U+FFFD");
  assert.ok(clip("x".repeat(49) + "\uD83D", 50).isWellFormed());
});
