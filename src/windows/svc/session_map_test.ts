import assert from "node:assert/strict";
import {
  presentSessionFrom,
  sessionChangeType,
  type SessionDetails,
  SessionMemory,
  type SessionUser,
  wtsCodeName,
} from "./session_map.ts";

const AT = Temporal.Instant.from("2025-04-27T07:06:14Z");

Deno.test("WTS codes map to the four reported changes, disconnect and reconnect, and nothing else", async (t) => {
  const table: [number, string | undefined][] = [
    [1, "reconnect"],
    [2, "disconnect"],
    [3, "reconnect"],
    [4, "disconnect"],
    [5, "logon"],
    [6, "logoff"],
    [7, "lock"],
    [8, "unlock"],
    [9, undefined],
    [10, undefined],
    [11, undefined],
    [0, undefined],
    [42, undefined],
  ];
  for (const [code, type] of table) {
    await t.step(`${wtsCodeName(code)} -> ${type ?? "ignored"}`, () => {
      assert.equal(sessionChangeType(code), type);
    });
  }
  assert.equal(wtsCodeName(3), "WTS_REMOTE_CONNECT");
  assert.equal(wtsCodeName(42), "code 42");
});

function fakeSystem(users: Record<number, SessionUser>) {
  return (session: number) => users[session];
}

Deno.test("a logoff uses the name remembered at logon when the system no longer has it", () => {
  const users: Record<number, SessionUser> = { 2: { user: "josh", domain: "CORP" } };
  const memory = new SessionMemory(fakeSystem(users));
  assert.deepEqual(memory.resolve(5, 2, AT), {
    type: "logon",
    user: "josh",
    domain: "CORP",
    session: 2,
    at: AT,
  });
  delete users[2];
  assert.deepEqual(memory.resolve(6, 2, AT), {
    type: "logoff",
    user: "josh",
    domain: "CORP",
    session: 2,
    at: AT,
  });
  assert.equal(memory.remembered(2), undefined, "a logoff forgets the session");
});

Deno.test("session 0 and unreported codes produce nothing", () => {
  const memory = new SessionMemory(fakeSystem({ 0: { user: "svc", domain: "" } }));
  assert.equal(memory.resolve(5, 0, AT), undefined);
  assert.equal(memory.resolve(9, 1, AT), undefined);
  assert.equal(memory.learn(0), undefined);
  assert.equal(memory.size, 0);
});

Deno.test("an unresolvable user is '' and never SYSTEM", async (t) => {
  for (const name of ["", "  ", "SYSTEM", "system", "Local System"]) {
    await t.step(JSON.stringify(name), () => {
      const memory = new SessionMemory(fakeSystem({ 3: { user: name, domain: "NT AUTHORITY" } }));
      const change = memory.resolve(7, 3, AT);
      assert.equal(change?.user, "");
      assert.equal(change?.domain, undefined);
    });
  }
  const memory = new SessionMemory(() => undefined);
  assert.equal(memory.resolve(6, 9, AT)?.user, "");
});

Deno.test("the start-up enumeration fills the memory used by later events", () => {
  const users: Record<number, SessionUser> = {
    1: { user: "anna", domain: "" },
    4: { user: "bob", domain: "CORP" },
  };
  const memory = new SessionMemory(fakeSystem(users));
  for (const session of [0, 1, 4, 5]) memory.learn(session);
  assert.equal(memory.size, 2);
  delete users[1];
  assert.equal(memory.resolve(8, 1, AT)?.user, "anna", "unlock falls back to memory");
  users[4] = { user: "carol", domain: "CORP" };
  assert.equal(memory.resolve(7, 4, AT)?.user, "carol", "the system's current name wins");
  assert.equal(memory.resolve(6, 4, AT)?.user, "carol");
});

Deno.test("a remote disconnect and reconnect keep the session's user and say they are remote", () => {
  const memory = new SessionMemory(fakeSystem({ 3: { user: "alice", domain: "CORP" } }));
  const gone = memory.resolve(4, 3, AT);
  assert.deepEqual(gone, {
    type: "disconnect",
    user: "alice",
    domain: "CORP",
    session: 3,
    at: AT,
    remote: true,
  });
  assert.equal(memory.remembered(3)?.user, "alice", "a disconnect does not forget the session");
  assert.equal(memory.resolve(1, 3, AT)?.type, "reconnect");
  assert.equal(memory.resolve(1, 3, AT)?.remote, undefined, "the console is not remote");
});

Deno.test("an enumerated session becomes the core's present session", async (t) => {
  const base: SessionDetails = {
    sessionId: 2,
    state: 0,
    flags: 1,
    winStationName: "RDP-Tcp#3",
    userName: "alice",
    domainName: "CORP",
    logonTime: Date.UTC(2025, 0, 14, 8),
    connectTime: Date.UTC(2025, 0, 14, 9),
  };
  await t.step("active, unlocked, remote", () => {
    assert.deepEqual(presentSessionFrom(base), {
      session: 2,
      user: "alice",
      domain: "CORP",
      state: "active",
      logonAt: Temporal.Instant.from("2025-01-14T08:00:00Z"),
      connectedAt: Temporal.Instant.from("2025-01-14T09:00:00Z"),
      locked: false,
      remote: true,
    });
  });
  await t.step("WTS_SESSIONSTATE_LOCK (0) is locked", () => {
    assert.equal(presentSessionFrom({ ...base, flags: 0 })?.locked, true);
  });
  await t.step("unknown flags and times are left out", () => {
    const p = presentSessionFrom(
      { ...base, flags: -1, logonTime: 0, connectTime: 0, winStationName: "Console" },
    );
    assert.deepEqual(p, { session: 2, user: "alice", domain: "CORP", state: "active" });
  });
  await t.step("disconnected", () => {
    assert.equal(
      presentSessionFrom({ ...base, state: 4 })?.state,
      "disconnected",
    );
  });
  await t.step("not a user's session", () => {
    for (
      const details of [
        { ...base, sessionId: 0 },
        { ...base, userName: "" },
        { ...base, userName: "SYSTEM" },
        { ...base, state: 1 },
        { ...base, state: 6 },
      ]
    ) {
      assert.equal(presentSessionFrom(details), undefined);
    }
  });
});
