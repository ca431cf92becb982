import assert from "node:assert/strict";
import type { SessionChange } from "../platform.ts";
import {
  parseSimulatedInput,
  parseSimulatedLine,
  SimulatedClock,
  SimulatedSource,
} from "./simulate.ts";

const NOW = Temporal.Instant.from("2026-01-01T00:00:00Z");

Deno.test("parseSimulatedLine accepts the documented form", () => {
  const change = parseSimulatedLine(
    '{"type":"logon","user":"alice","session":2,"at":"2025-04-27T07:06:14Z"}',
    NOW,
  );
  assert.equal(change.type, "logon");
  assert.equal(change.user, "alice");
  assert.equal(change.session, 2);
  assert.equal(change.at.toString(), "2025-04-27T07:06:14Z");
  assert.equal(parseSimulatedLine('{"type":"Lock","user":"bob"}', NOW).at, NOW);
});

Deno.test("parseSimulatedLine names what is wrong", async (t) => {
  const cases: [string, RegExp][] = [
    ["not json", /not JSON/],
    ["[1]", /not a JSON object/],
    ['{"type":"login","user":"a"}', /"type" must be one of/],
    ['{"type":"lock","user":5}', /"user" must be a string/],
    ['{"type":"lock","user":"a","session":-1}', /"session" must be a non-negative integer/],
    ['{"type":"lock","user":"a","at":"yesterday"}', /"at" is not an RFC 3339 instant/],
  ];
  for (const [line, message] of cases) {
    await t.step(line, () => assert.throws(() => parseSimulatedLine(line, NOW), message));
  }
});

Deno.test("SimulatedSource feeds valid lines in order, reports and skips bad ones", async () => {
  const text = [
    '{"type":"logon","user":"alice","session":2}',
    "garbage",
    "",
    '{"type":"lock","user":"alice","session":2}',
    '{"type":"unlock","user":"alice","session":2}',
  ].join("\n");
  const input = new Blob([text]).stream();
  const logged: string[] = [];
  const source = new SimulatedSource({
    input,
    name: "test.jsonl",
    log: (level, message) => logged.push(`${level} ${message}`),
  });
  const seen: SessionChange[] = [];
  await source.run((change) => {
    seen.push(change);
    return Promise.resolve();
  });
  assert.deepEqual(seen.map((c) => c.type), ["logon", "lock", "unlock"]);
  assert.ok(
    logged.some((l) => /^error Skipped line 2 of test\.jsonl: not JSON/.test(l)),
    logged.join("\n"),
  );
  assert.ok(logged.some((l) => l.includes("ended after 5 lines")));
});

Deno.test("SimulatedSource stamps a line without at from its clock and accepts CRLF", async () => {
  const at = Date.parse("2025-04-27T07:06:14.500Z");
  const input = new Blob(['{"type":"lock","user":"a"}\r\n{"type":"unlock","user":"a"}']).stream();
  const source = new SimulatedSource({
    input,
    name: "t",
    log: () => {},
    clock: { wallNow: () => at },
  });
  const seen: SessionChange[] = [];
  await source.run((change) => {
    seen.push(change);
    return Promise.resolve();
  });
  assert.deepEqual(seen.map((c) => [c.type, c.at.epochMilliseconds]), [["lock", at], [
    "unlock",
    at,
  ]]);
});

Deno.test("SimulatedSource close stops the run between lines and while it waits for input", async (t) => {
  const encoder = new TextEncoder();
  await t.step("between two lines of one chunk", async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const input = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const source = new SimulatedSource({ input, name: "t", log: () => {} });
    const seen: SessionChange[] = [];
    const running = source.run((change) => {
      seen.push(change);
      source.close();
      return Promise.resolve();
    });
    controller.enqueue(encoder.encode('{"type":"lock"}\n{"type":"unlock"}\n'));
    await running;
    assert.deepEqual(seen.map((c) => c.type), ["lock"]);
  });
  await t.step("while no input arrives", async () => {
    const input = new ReadableStream<Uint8Array>({ start() {} });
    const logged: string[] = [];
    const source = new SimulatedSource({ input, name: "t", log: (_, m) => logged.push(m) });
    const running = source.run(() => Promise.resolve());
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    source.close();
    source.close();
    await running;
    // The stop ended the input: no "the agent keeps running" between "stopping" and "stopped".
    assert.ok(!logged.some((l) => l.includes("keeps running")), logged.join("\n"));
  });
});

Deno.test("the end of simulated input counts its lines in good English", async () => {
  const logged: string[] = [];
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"type":"lock","user":"a"}\n'));
      controller.close();
    },
  });
  const source = new SimulatedSource({ input, name: "t", log: (_, m) => logged.push(m) });
  await source.run(() => Promise.resolve());
  assert.ok(logged.some((l) => l.includes("ended after 1 line;")), logged.join("\n"));
});

Deno.test("parseSimulatedInput reads present sessions, the clock, and the end of a run", async (t) => {
  await t.step("present", () => {
    assert.deepEqual(
      parseSimulatedInput(
        '{"type":"present","user":"bob","session":3,"state":"disconnected","logonAt":"2025-01-14T08:00:00Z","locked":true,"remote":true}',
        NOW,
      ),
      {
        kind: "present",
        session: {
          session: 3,
          user: "bob",
          state: "disconnected",
          logonAt: Temporal.Instant.from("2025-01-14T08:00:00Z"),
          locked: true,
          remote: true,
        },
      },
    );
  });
  await t.step("clock, ends, disconnect", () => {
    assert.deepEqual(parseSimulatedInput('{"type":"clock","at":"2025-01-14T08:00:00Z"}', NOW), {
      kind: "clock",
      at: Temporal.Instant.from("2025-01-14T08:00:00Z"),
    });
    assert.deepEqual(parseSimulatedInput('{"type":"power-loss"}', NOW), {
      kind: "end",
      end: "power-loss",
      at: undefined,
    });
    const line = parseSimulatedInput(
      '{"type":"disconnect","user":"a","session":2,"remote":true}',
      NOW,
    );
    assert.equal(line.kind === "change" && line.change.type, "disconnect");
    assert.equal(line.kind === "change" && line.change.remote, true);
  });
  const bad: [string, RegExp][] = [
    ['{"type":"present","session":3}', /"present" line needs "user"/],
    [
      '{"type":"present","user":"a","state":"asleep"}',
      /"state" must be "active" or "disconnected"/,
    ],
    ['{"type":"present","user":"a","logonAt":"8am"}', /"logonAt" is not an RFC 3339 instant/],
    ['{"type":"clock"}', /"clock" line needs "at"/],
    ['{"type":"present","none":true,"user":"a"}', /with "none" has no "user"/],
    ['{"type":"reboot"}', /"type" must be one of .*present, clock, stop, shutdown, power-loss/],
  ];
  for (const [text, message] of bad) {
    await t.step(text, () => assert.throws(() => parseSimulatedInput(text, NOW), message));
  }
});

Deno.test("SimulatedSource: leading present lines are the snapshot; the clock follows the input", async () => {
  const text = [
    '{"type":"clock","at":"2025-01-14T09:00:00Z"}',
    '{"type":"present","user":"bob","session":3}',
    '{"type":"logon","user":"alice","session":2,"at":"2025-01-14T10:00:00Z"}',
    '{"type":"present","user":"late","session":4}',
    '{"type":"disconnect","session":2}',
    '{"type":"stop"}',
    '{"type":"lock","user":"alice","session":2}',
  ].join("\n");
  const logged: string[] = [];
  const ends: string[] = [];
  const clock = new SimulatedClock();
  const source = new SimulatedSource({
    input: new Blob([text]).stream(),
    name: "t.jsonl",
    log: (level, message) => logged.push(`${level} ${message}`),
    simulatedClock: clock,
    onEnd: (end) => ends.push(end),
  });
  const present = await source.presentSessions();
  assert.deepEqual(present?.map((p) => p.user), ["bob"]);
  const wall = clock.wallNow();
  assert.ok(
    wall >= Date.UTC(2025, 0, 14, 9) && wall < Date.UTC(2025, 0, 14, 9, 1),
    "the clock line set it",
  );
  const seen: SessionChange[] = [];
  await source.run((change) => {
    seen.push(change);
    return Promise.resolve();
  });
  assert.deepEqual(seen.map((c) => `${c.type} ${c.user}`), ["logon alice", "disconnect alice"]);
  assert.ok(clock.wallNow() >= Date.UTC(2025, 0, 14, 10), "a later at moved the clock on");
  assert.deepEqual(ends, ["stop"], "the stop line ends the run; the line after it is not read");
  assert.ok(logged.some((l) => /^error Skipped line 4 .*"present" lines must come first/.test(l)));
});

Deno.test("SimulatedSource: no present line is no snapshot; present none is an empty one", async () => {
  const open = (text: string) =>
    new SimulatedSource({ input: new Blob([text]).stream(), name: "t", log: () => {} });
  assert.equal(await open('{"type":"logon","user":"a"}').presentSessions(), undefined);
  assert.deepEqual(await open('{"type":"present","none":true}\n').presentSessions(), []);
});
