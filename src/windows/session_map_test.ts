import assert from "node:assert/strict";
import { sessionChangeType, SessionMemory, type SessionUser, wtsCodeName } from "./session_map.ts";

const AT = Temporal.Instant.from("2025-04-27T07:06:14Z");

Deno.test("WTS codes map to the four reported changes and nothing else", async (t) => {
  const table: [number, string | undefined][] = [
    [1, undefined],
    [2, undefined],
    [3, undefined],
    [4, undefined],
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
  assert.equal(memory.resolve(3, 1, AT), undefined);
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
