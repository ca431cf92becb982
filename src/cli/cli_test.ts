import assert from "node:assert/strict";
import { main, parseArgs } from "./cli.ts";
import { createPosixPlatform } from "../posix.ts";

Deno.test("flags are accepted with one dash or two, and with = or a space", async (t) => {
  const forms: string[][] = [
    ["-service", "install", "-config", "C:\\pkg\\config.ini"],
    ["--service", "install", "--config", "C:\\pkg\\config.ini"],
    ["--service=install", "--config=C:\\pkg\\config.ini"],
    ["-service=INSTALL", "-config", "C:\\pkg\\config.ini"],
  ];
  for (const args of forms) {
    await t.step(args.join(" "), () => {
      const options = parseArgs(args);
      assert.equal(options.service, "install");
      assert.equal(options.config, "C:\\pkg\\config.ini");
    });
  }
});

Deno.test("uninstall is a synonym of remove", () => {
  assert.equal(parseArgs(["-service", "uninstall"]).service, "remove");
  assert.equal(parseArgs(["--service", "remove", "--purge"]).purge, true);
});

Deno.test("config flags are validated and normalized together", () => {
  const options = parseArgs([
    "--url",
    "https://192.168.27.1:8000/",
    "--api-key",
    "k".repeat(64),
    "--debug",
    "TRUE",
    "--timezone",
    "Europe/London",
    "--check-interval",
    "0",
  ]);
  assert.equal(options.settings.server_url, "https://192.168.27.1:8000");
  assert.equal(options.settings.debug_logs, "true");
  assert.equal(options.settings.timezone, "Europe/London");
  assert.equal(options.settings.health_check_interval, "0");
  assert.equal(options.settings.api_key, "k".repeat(64));
});

Deno.test("a bad flag or value is refused with a message that names it", async (t) => {
  const secret = "s3cr3t-key-that-must-not-leak with space";
  const cases: [string[], RegExp][] = [
    [["--frobnicate"], /Unknown flag "--frobnicate"/],
    [["--service", "explode"], /Invalid value for --service: "explode"/],
    [["--url"], /--url needs a value/],
    [["--url", "ftp://x"], /Invalid value for --url/],
    [["--timezone", "Mars/Olympus"], /Invalid value for --timezone/],
    [["--check-interval", "-5"], /Invalid value for --check-interval/],
    [["--debug", "maybe"], /Invalid value for --debug/],
    [["--api-key", secret], /Invalid value for --api-key/],
    [["--service", "start", "--url", "https://a:1"], /cannot be combined/],
    [["--simulate", "-"], /only with --service run/],
    [["--purge"], /only with --service remove/],
    [["stray"], /Unexpected argument "stray"/],
    [["--json"], /--json works only with --status or --pending/],
    [["--max-backlog", "1h"], /--max-backlog works only with --status/],
    [["--status", "--max-backlog", "soon"], /Invalid value for --max-backlog: "soon"/],
    [["--status", "--url", "https://a:1"], /--status and --pending only read/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parseArgs(args), (error: Error) => {
        assert.match(error.message, message);
        assert.ok(!error.message.includes("s3cr3t"), "the API key leaked into the message");
        assert.equal(error.message.split("Invalid value for").length <= 2, true, error.message);
        return true;
      });
    });
  }
});

Deno.test("--api-key - takes the key from standard input, and counts as a config change", () => {
  const options = parseArgs(["--api-key", "-"]);
  assert.equal(options.apiKeyFromStdin, true);
  assert.equal(options.settings.api_key, undefined);
  assert.throws(() => parseArgs(["--service", "run", "--api-key", "-"]), /cannot be combined/);
});

Deno.test("a flag's value is taken as written, even when it starts with a dash", () => {
  const options = parseArgs(["-service", "run", "-config", "-x.ini", "-simulate", "-"]);
  assert.equal(options.config, "-x.ini");
  assert.equal(options.simulate, "-");
  assert.equal(parseArgs(["--config", "--"]).config, "--");
  assert.equal(parseArgs(["--config=a=b.ini"]).config, "a=b.ini");
});

Deno.test("flag names are read in any case", () => {
  const options = parseArgs(["-Service=Run", "--CONFIG", "c.ini"]);
  assert.equal(options.service, "run");
  assert.equal(options.config, "c.ini");
  assert.equal(parseArgs(["--Check-Interval=90s"]).settings.health_check_interval, "90s");
  assert.equal(parseArgs(["-h"]).help, true);
});

Deno.test("the first problem on the command line is the one reported", async (t) => {
  const cases: [string[], string][] = [
    [["--frob", "stray"], 'Unknown flag "--frob": see --help for the flags'],
    [["stray", "--frob"], 'Unexpected argument "stray": flags start with - or --; see --help'],
    [["--", "--help"], 'Unexpected argument "--": flags start with - or --; see --help'],
    [["-5"], 'Unexpected argument "-5": flags start with - or --; see --help'],
    [["-Frob=1"], 'Unknown flag "-Frob": see --help for the flags'],
    [["--api_key=k"], 'Unknown flag "--api_key": did you mean --api-key? See --help for the flags'],
    [["--chek-interval", "5"], 'Unknown flag "--chek-interval": did you mean --check-interval?'],
    [["--stauts"], 'Unknown flag "--stauts": did you mean --status?'],
    [["--help=yes"], "The flag --help takes no value"],
    [["--URL"], "The flag --url needs a value"],
    [["--config="], "The flag --config needs a file path"],
    [["--debug", "maybe", "--url", "ftp://x"], 'Invalid value for --debug (debug_logs): "maybe"'],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parseArgs(args), (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.ok(error.message.startsWith(message), error.message);
        return true;
      });
    });
  }
});

Deno.test("--service install takes config flags and --install-dir, which win over the import", () => {
  const options = parseArgs([
    "--service",
    "install",
    "--config",
    "import.ini",
    "--url",
    "https://192.168.27.1:8000",
    "--api-key",
    "k".repeat(32),
    "--cert-sha256",
    "AB:".repeat(31) + "AB",
    "--install-dir",
    "D:\\Agent Data",
  ]);
  assert.equal(options.service, "install");
  assert.equal(options.settings.server_url, "https://192.168.27.1:8000");
  assert.equal(options.settings.api_key, "k".repeat(32));
  assert.equal(options.settings.tls_server_sha256, "ab".repeat(32));
  assert.equal(options.settings.install_dir, "D:\\Agent Data");
  assert.equal(parseArgs(["--service", "install", "--api-key", "-"]).apiKeyFromStdin, true);
  assert.throws(() => parseArgs(["--install-dir", "D:\\x"]), /only with --service install/);
  assert.throws(
    () => parseArgs(["--service", "install", "--pin-server-cert"]),
    /cannot be combined/,
  );
  assert.throws(() => parseArgs(["--cert-sha256", "abc"]), /Invalid value for --cert-sha256/);
});

Deno.test("/? and -? show the help, as --help does (Windows habits)", async (t) => {
  for (const flag of ["/?", "-?", "--help", "-h"]) {
    await t.step(flag, async () => {
      assert.equal(parseArgs([flag]).help, true);
      const printed: string[] = [];
      const code = await main([flag], {
        platform: createPosixPlatform(),
        version: "9.9.9",
        print: (line) => printed.push(line),
        printError: (line) => printed.push(line),
      });
      assert.equal(code, 0);
      assert.match(printed.join("\n"), /^User Session Monitor Agent 9\.9\.9/);
      assert.match(printed.join("\n"), /--help, \/\?, -\?/);
    });
  }
  assert.throws(() => parseArgs(["/help"]), /Unexpected argument "\/help"/);
});

Deno.test("--check-interval above a day is accepted with a warning on the console", () => {
  const options = parseArgs(["--check-interval", "2000"]);
  assert.equal(options.settings.health_check_interval, "2000");
  assert.deepEqual(options.warnings, [
    "health_check_interval = 2000 is read as 2000 minutes (every 2000 minutes): write 2000s if seconds were meant",
  ]);
  assert.deepEqual(parseArgs(["--check-interval", "2000s"]).warnings, []);
});

Deno.test("a bad key on standard input is refused once, masked", async () => {
  const dir = await Deno.makeTempDir();
  const errors: string[] = [];
  try {
    const code = await main(["--config", `${dir}/config.ini`, "--api-key", "-"], {
      platform: createPosixPlatform(),
      version: "9.9.9",
      stdin: ReadableStream.from([new TextEncoder().encode("bad key with spaces\n")]),
      print: () => {},
      printError: (line) => errors.push(line),
    });
    assert.equal(code, 2);
    assert.deepEqual(errors, [
      'Invalid value for --api-key (api_key, from standard input): "bad …aces" contains whitespace: paste the key without spaces',
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a key given to a misspelt flag or as a stray argument is masked in the error", () => {
  const key = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";
  for (const args of [[`--api_key=${key}`], [key], ["--debug", "true", key]]) {
    assert.throws(() => parseArgs(args), (error: Error) => {
      assert.match(error.message, /^Unexpected argument ".*4795…93fa"|^Unknown flag "--api_key"/);
      assert.ok(!error.message.includes(key.slice(4, -4)), error.message);
      return true;
    });
  }
});
