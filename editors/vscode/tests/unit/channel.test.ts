// Unit tests of src/channel.ts: the language client's lines keep their level in the log
// channel, and a clean exit of the server is not an error. Run by `npm run test:unit`.

import { strict as assert } from "node:assert";
import { test } from "node:test";

import { ClientLog, Log, classify } from "../../src/channel";

function recorder(): { log: Log; entries: string[] } {
  const entries: string[] = [];
  const at = (level: string) => (message: string) => entries.push(`${level}: ${message}`);
  return {
    entries,
    log: { trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

test("the client's prefix becomes the entry's level", () => {
  assert.deepEqual(classify("[Info  - 12:50:00 PM] twdsl 0.1.0 language server ready"), {
    level: "info",
    message: "twdsl 0.1.0 language server ready",
  });
  assert.deepEqual(classify("[Warn  - 1:02:03 AM] careful"), { level: "warn", message: "careful" });
  assert.deepEqual(classify("[Error - 12:51:34 PM] Server process exited with code 1."), {
    level: "error",
    message: "Server process exited with code 1.",
  });
  assert.deepEqual(classify("[Debug - 12:51:34] details"), { level: "debug", message: "details" });
  assert.deepEqual(classify("[Trace - 12:51:34 PM] Sending request 'initialize - (0)'."), {
    level: "info",
    message: "Sending request 'initialize - (0)'.",
  });
  assert.deepEqual(classify("WARNING:pygls:something on stderr"), {
    level: "info",
    message: "WARNING:pygls:something on stderr",
  });
});

test("a clean exit of the server (a restart, a stop) is not an error; others are", () => {
  assert.deepEqual(classify("[Error - 12:51:34 PM] Server process exited with code 0."), {
    level: "info",
    message: "Server process exited with code 0.",
  });
  assert.equal(classify("[Error - 12:51:34 PM] Server process exited with code 2.").level, "error");
  assert.equal(classify("[Error - 12:51:34 PM] Server process exited with signal SIGKILL.").level, "error");
});

test("appended chunks are written by line, appendLine ends an entry that may span lines", () => {
  const { log, entries } = recorder();
  const channel = new ClientLog(log);
  channel.append("Traceback (most");
  channel.append(" recent call last):\n  File");
  assert.deepEqual(entries, ["info: Traceback (most recent call last):"]);
  channel.append(' "x.py"\n\n');
  channel.appendLine("[Error - 1:00:00 PM] twdsl: analysis failed:\nTraceback ...");
  channel.append("[LSP   - 1:00:01 PM] ");
  channel.appendLine('{"method":"initialized"}');
  assert.deepEqual(entries, [
    "info: Traceback (most recent call last):",
    'info:   File "x.py"',
    "error: twdsl: analysis failed:\nTraceback ...",
    'info: {"method":"initialized"}',
  ]);
});
