/**
 * tls_ca_store = system on Linux: the agent trusts what the operating system's store holds. On
 * Linux, Deno 2.9.6's `node:tls` `getCACertificates("system")` reads the PEM file SSL_CERT_FILE
 * names (else the distribution's bundle), so each test runs the real CLI or agent in a child
 * process whose SSL_CERT_FILE is a test CA made here, against an HTTPS server on 127.0.0.1 with
 * a certificate that CA signed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentProcess, runCli } from "./support/agent_process.ts";
import { generateCaSignedCertificate, generateReferenceCertificate } from "./support/cert.ts";
import { TEST_API_KEY } from "./support/files.ts";

/** An HTTPS server whose health check passes, with a certificate signed by a test CA. */
async function withServer(
  fn: (setup: { url: string; dir: string; caFile: string; otherFile: string }) => Promise<void>,
): Promise<void> {
  const cert = await generateCaSignedCertificate();
  const other = await generateReferenceCertificate({ bits: 2048 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, cert: cert.certPem, key: cert.keyPem },
    () => Response.json({ status: "ok", message: "Health check passed" }),
  );
  const dir = await Deno.makeTempDir({ prefix: "usm-store-" });
  const caFile = join(dir, "test-ca.pem");
  const otherFile = join(dir, "other-ca.pem");
  await Deno.writeTextFile(caFile, cert.caPem);
  await Deno.writeTextFile(otherFile, other.certPem);
  try {
    await fn({ url: `https://127.0.0.1:${server.addr.port}`, dir, caFile, otherFile });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeConfig(dir: string, url: string, store: string): Promise<string> {
  const config = join(dir, "config.ini");
  await Deno.writeTextFile(
    config,
    `[API]\napi_key = ${TEST_API_KEY}\nserver_url = ${url}\ntls_ca_store = ${store}\ntimezone = UTC\n`,
  );
  return config;
}

Deno.test("tls_ca_store = system trusts a CA of the system store (SSL_CERT_FILE on Linux), mozilla does not", async (t) => {
  await withServer(async ({ url, dir, caFile, otherFile }) => {
    // A config flag makes the CLI run a health check with the settings of config.ini.
    const check = (config: string, sslCertFile: string) =>
      runCli(["--config", config, "--debug", "false"], { env: { SSL_CERT_FILE: sslCertFile } });

    await t.step("system, with the test CA in the store: trusted", async () => {
      const config = await writeConfig(dir, url, "system");
      const result = await check(config, caFile);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Health check passed/);
    });
    await t.step("mozilla (Deno's built-in roots), same environment: not trusted", async () => {
      const config = await writeConfig(dir, url, "mozilla");
      const result = await check(config, caFile);
      assert.match(result.stdout, /Health check failed: The certificate of .* is not trusted/);
    });
    await t.step("system, with a store that lacks the test CA: not trusted", async () => {
      const config = await writeConfig(dir, url, "system");
      const result = await check(config, otherFile);
      assert.match(result.stdout, /Health check failed: The certificate of .* is not trusted/);
    });
    await t.step("system, with a store that cannot be read: said, not guessed", async () => {
      const config = await writeConfig(dir, url, "system");
      const result = await check(config, join(dir, "missing.pem"));
      assert.match(
        result.stdout,
        /Health check not run: Cannot read the system's certificate store \(tls_ca_store = system\): /,
      );
    });
    await t.step("a bad value is refused, naming the accepted ones", async () => {
      const config = await writeConfig(dir, url, "windows");
      const result = await runCli(["--status", "--config", config]);
      assert.match(
        result.stdout,
        /Config error: +Invalid value for tls_ca_store in .*config\.ini line 4: "windows" is not mozilla \(Deno's built-in Mozilla roots\) or system/,
      );
    });
  });
});

Deno.test("a running agent with tls_ca_store = system says so at start and passes its health check", async () => {
  await withServer(async ({ url, dir, caFile }) => {
    const config = await writeConfig(dir, url, "system");
    const agent = AgentProcess.start(config, { env: { SSL_CERT_FILE: caFile } });
    try {
      await agent.waitForLine(
        /Settings: server https:\/\/127\.0\.0\.1:\d+ \(the system's certificate store\)/,
      );
      await agent.waitForLine(/Health check \(start\) passed/);
    } finally {
      assert.equal((await agent.stop()).code, 0);
    }
  });
});
