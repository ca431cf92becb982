import assert from "node:assert/strict";
import { ManualClock } from "../../tests/support/manual_clock.ts";
import {
  denoProbe,
  firstUsableIPv4,
  HostInfo,
  type HostProbe,
  isIPv4,
  systemProbe,
} from "./host_info.ts";

Deno.test("firstUsableIPv4 skips loopback, link-local and IPv6", () => {
  assert.equal(
    firstUsableIPv4([
      { family: "IPv6", address: "fe80::1" },
      { family: "IPv4", address: "127.0.0.1" },
      { family: "IPv4", address: "169.254.3.4" },
      { family: "IPv4", address: "192.168.66.34" },
      { family: "IPv4", address: "10.0.0.9" },
    ]),
    "192.168.66.34",
  );
  assert.equal(firstUsableIPv4([{ family: "IPv4", address: "127.0.0.1" }]), undefined);
  assert.ok(isIPv4("203.0.113.7"));
  assert.ok(!isIPv4("203.0.113.256"));
});

Deno.test("the route probe reports the local address of a real connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((conn) => conn.close());
  const local = await denoProbe.localAddressTowards("127.0.0.1", listener.addr.port, 2000);
  await accepted;
  listener.close();
  assert.equal(local, "127.0.0.1");
});

Deno.test("a public IP lookup that gets no answer times out on the agent's clock", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const clock = new ManualClock();
  const lookup = systemProbe(clock).fetchText(`http://127.0.0.1:${listener.addr.port}/`, 3000);
  const conn = await accepted; // the request is in flight and never answered
  const timedOut = assert.rejects(lookup, (error: Error) => error.name === "TimeoutError");
  await clock.advance(3000);
  await timedOut;
  assert.equal(clock.pendingTimers, 0);
  conn.close();
  listener.close();
});

function probe(overrides: Partial<HostProbe>): HostProbe {
  return {
    hostname: () => "DESKTOP-5D51HM9",
    interfaces: () => [{ family: "IPv4", address: "192.168.66.34", name: "eth0" }],
    localAddressTowards: () => Promise.resolve("10.1.2.3"),
    fetchText: () => Promise.resolve("203.0.113.7\n"),
    ...overrides,
  };
}

Deno.test("HostInfo prefers the interface that routes to the server", async () => {
  const host = new HostInfo({ probe: probe({}), log: () => {} });
  assert.equal(host.ipv4, "192.168.66.34");
  await host.refresh("https://10.1.2.1:8000");
  assert.equal(host.ipv4, "10.1.2.3");
  assert.equal(host.computerName, "DESKTOP-5D51HM9");
});

Deno.test("HostInfo falls back to the first usable interface when the route is unknown", async () => {
  const host = new HostInfo({
    probe: probe({ localAddressTowards: () => Promise.reject(new Error("unreachable")) }),
    log: () => {},
  });
  await host.refresh("https://192.0.2.200:8000");
  assert.equal(host.ipv4, "192.168.66.34");
});

Deno.test("HostInfo takes the public IP from the first URL that answers an address", async () => {
  const asked: string[] = [];
  const host = new HostInfo({
    probe: probe({
      fetchText: (url) => {
        asked.push(url);
        return url.includes("bad") ? Promise.resolve("<html>") : Promise.resolve("203.0.113.7\n");
      },
    }),
    log: () => {},
  });
  await host.refreshPublicIp(["http://bad.example/ip", "http://good.example/ip"]);
  assert.equal(host.publicIp, "203.0.113.7");
  assert.deepEqual(asked, ["http://bad.example/ip", "http://good.example/ip"]);
});
