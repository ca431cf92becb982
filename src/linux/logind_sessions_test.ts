import assert from "node:assert/strict";
import {
  isUserSession,
  type LogindSession,
  LogindSessions,
  NON_AUDIT_BASE,
  sessionFromProperties,
  sessionNumber,
} from "./logind_sessions.ts";

const at = Temporal.Instant.from("2025-01-14T08:00:00Z");

function session(id: string, overrides: Partial<LogindSession> = {}): LogindSession {
  return {
    id,
    path: `/org/freedesktop/login1/session/_3${id}`,
    name: "alice",
    class: "user",
    type: "x11",
    remote: false,
    state: "active",
    lockedHint: false,
    timestampUs: 1_736_841_600_000_000n, // 2025-01-14T08:00:00Z
    ...overrides,
  };
}

Deno.test("logind session ids become stable numbers", () => {
  assert.equal(sessionNumber("3"), 3);
  assert.equal(sessionNumber("c2"), NON_AUDIT_BASE + 2);
  assert.equal(sessionNumber("odd"), sessionNumber("odd"));
  assert.ok(sessionNumber("odd") >= 2 * NON_AUDIT_BASE);
});

Deno.test("only users' sessions are reported: not greeters, lock screens, services", () => {
  for (const cls of ["user", "user-early", "user-incomplete"]) {
    assert.ok(isUserSession({ class: cls, name: "alice" }), cls);
  }
  for (const cls of ["greeter", "lock-screen", "background", "manager", ""]) {
    assert.ok(!isUserSession({ class: cls, name: "gdm" }), cls);
  }
  assert.ok(!isUserSession({ class: "user", name: " " }));
});

Deno.test("session properties are read, a missing Name or Class is named", () => {
  const read = sessionFromProperties("4", "/s/4", {
    Name: "bob@corp.example",
    Class: "user",
    Type: "tty",
    Remote: true,
    State: "active",
    LockedHint: false,
    Timestamp: 5n,
  });
  assert.equal(read.name, "bob@corp.example");
  assert.equal(read.remote, true);
  assert.equal(read.timestampUs, 5n);
  assert.throws(() => sessionFromProperties("4", "/s/4", { Class: "user" }), /no Name/);
});

Deno.test("the snapshot: user sessions with their logon time and lock state", () => {
  const sessions = new LogindSessions();
  const present = sessions.present([
    session("3", { lockedHint: true, remote: true }),
    session("c1", { class: "greeter", name: "gdm" }),
    session("4", { state: "closing" }),
    session("5", { timestampUs: 0n, name: "carol@corp.example" }),
  ]);
  assert.deepEqual(present, [
    { session: 3, user: "alice", state: "active", logonAt: at, locked: true, remote: true },
    { session: 5, user: "carol@corp.example", state: "active" },
  ]);
});

Deno.test("signals: new, lock, unlock and removed sessions; others record nothing", () => {
  const sessions = new LogindSessions();
  const alice = session("3");
  assert.deepEqual(sessions.added(alice, at), { type: "logon", user: "alice", session: 3, at });
  assert.equal(sessions.added(alice, at), undefined, "known already (snapshot and signal)");
  assert.equal(sessions.added(session("c1", { class: "greeter" }), at), undefined);
  assert.equal(sessions.changed(alice.path, { Active: false }, at), undefined);
  assert.equal(sessions.changed(alice.path, { LockedHint: true }, at)?.type, "lock");
  assert.equal(sessions.changed(alice.path, { LockedHint: true }, at), undefined, "no change");
  assert.equal(sessions.changed(alice.path, { LockedHint: false }, at)?.type, "unlock");
  assert.equal(sessions.removed(session("c1").path, at), undefined, "never reported");
  assert.equal(sessions.removed(alice.path, at)?.type, "logoff");
  assert.equal(sessions.removed(alice.path, at), undefined);
  assert.equal(sessions.changed(alice.path, { LockedHint: true }, at), undefined);
});
