import assert from "node:assert/strict";
import type { SessionChange } from "../../platform.ts";
import { type SessionDetails, WTS_CODES } from "./session_map.ts";
import { WtsSessionSource } from "./session_source.ts";

const AT = Date.UTC(2026, 10, 25, 8, 0, 0);

function details(sessionId: number, userName: string): SessionDetails {
  return {
    sessionId,
    state: 0,
    flags: 1,
    winStationName: "Console",
    userName,
    domainName: "CORP",
    logonTime: 0,
    connectTime: 0,
  };
}

function setUp() {
  const lines: string[] = [];
  const users = new Map([[2, "alice"], [3, "bob"]]);
  let enumerations = 0;
  const source = new WtsSessionSource({
    log: (level, message) => lines.push(`${level}: ${message}`),
    lookupUser: (session) => {
      const user = users.get(session);
      return user ? { user, domain: "CORP" } : undefined;
    },
    enumerate: () => {
      enumerations++;
      return Promise.resolve(
        [0, 2, 3].map((id) => ({ sessionId: id, winStationName: "", state: 0 })),
      );
    },
    query: (id) => details(id, users.get(id) ?? ""),
  });
  return { source, lines, users, enumerations: () => enumerations };
}

Deno.test("the Windows source: one enumeration answers who is present and fills the user memory", async () => {
  const t = setUp();
  const present = await t.source.presentSessions();
  assert.deepEqual(present?.map((p) => [p.session, p.user, p.locked]), [
    [2, "alice", false],
    [3, "bob", false],
  ]);
  assert.equal(t.enumerations(), 1);
  assert.equal(t.source.sessions.remembered(3)?.user, "bob");
  // bob's name is gone by the time his logoff arrives: the memory from the enumeration names him.
  t.users.delete(3);
  const seen: SessionChange[] = [];
  const running = t.source.run((change) => {
    seen.push(change);
    return Promise.resolve();
  });
  t.source.notify(WTS_CODES.WTS_SESSION_LOGOFF, 3, AT);
  t.source.notify(WTS_CODES.WTS_SESSION_CREATE, 3, AT); // not reported
  t.source.close();
  await running;
  assert.deepEqual(seen.map((c) => [c.type, c.user, c.at.epochMilliseconds]), [
    ["logoff", "bob", AT],
  ]);
  assert.ok(
    t.lines.includes("debug: Ignored WTS_SESSION_CREATE for session 3"),
    t.lines.join("\n"),
  );
});

Deno.test("the Windows source delivers in order and says so when a change comes after the stop", async () => {
  const t = setUp();
  t.source.notify(WTS_CODES.WTS_SESSION_LOCK, 2, AT);
  assert.ok(t.lines.some((l) => l.includes("while no agent listens is not recorded")));
  const seen: string[] = [];
  let release!: () => void;
  const slow = new Promise<void>((resolve) => release = resolve);
  const running = t.source.run(async (change) => {
    if (seen.length === 0) await slow; // the first write takes its time
    seen.push(change.type);
  });
  t.source.notify(WTS_CODES.WTS_SESSION_LOCK, 2, AT);
  t.source.notify(WTS_CODES.WTS_SESSION_UNLOCK, 2, AT + 1);
  t.source.close();
  t.source.notify(WTS_CODES.WTS_SESSION_LOGOFF, 2, AT + 2);
  release();
  await running; // the changes handed over before the close still reach the sink
  assert.deepEqual(seen, ["lock", "unlock"]);
  assert.ok(t.lines.includes("warn: A logoff of session 2 after the stop is not recorded"));
});
