// Unit tests of how the debug adapter is started and of launch configurations (src/debug.ts),
// run with `node --test` after esbuild bundles them (`npm run test:unit`); no VS Code needed.

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { DEFAULT_CONFIGURATION, completeConfiguration, resolveDebugCommand } from "../../src/debug";
import { ServerCommandError } from "../../src/server";

const vars = { workspaceFolder: "/work/project", userHome: "/home/ada" };

test("the default server command starts twdsl debug", () => {
  assert.deepEqual(resolveDebugCommand({ command: ["twdsl", "lsp"], pythonPath: "" }, vars), {
    command: "twdsl",
    args: ["debug"],
    setting: "twdsl.server.command",
  });
});

test("the lsp argument of a longer command is replaced, the rest kept", () => {
  assert.deepEqual(
    resolveDebugCommand({ command: ["uvx", "--from", "${workspaceFolder}", "twdsl", "lsp"], pythonPath: "" }, vars),
    { command: "uvx", args: ["--from", "/work/project", "twdsl", "debug"], setting: "twdsl.server.command" },
  );
});

test("pythonPath runs the module's debug command", () => {
  assert.deepEqual(
    resolveDebugCommand({ command: ["twdsl", "lsp"], pythonPath: "${workspaceFolder}/.venv/bin/python" }, vars),
    { command: "/work/project/.venv/bin/python", args: ["-m", "twdsl.cli", "debug"], setting: "twdsl.server.pythonPath" },
  );
});

test("a command without lsp cannot be turned into the debugger", () => {
  assert.throws(
    () => resolveDebugCommand({ command: ["my-server"], pythonPath: "" }, vars),
    (err: unknown) =>
      err instanceof ServerCommandError &&
      err.message ===
        "The setting `twdsl.server.command` has no `lsp` argument to replace with `debug`, so the " +
          "debugger cannot be started from it; set `twdsl.server.pythonPath` instead.",
  );
});

test("F5 without launch.json debugs the active .twdsl file", () => {
  assert.deepEqual(completeConfiguration({}, "twdsl", "/work/project"), {
    ...DEFAULT_CONFIGURATION,
    cwd: "/work/project",
  });
  assert.equal(
    completeConfiguration({}, "python", "/work/project"),
    "Open a .twdsl file to debug it, or add a TWDSL launch configuration to launch.json.",
  );
});

test("a configuration keeps its fields and needs a program", () => {
  const config = { type: "twdsl", request: "launch", name: "x", program: "a.twdsl", cwd: "/else", inputs: { n: 1 } };
  assert.deepEqual(completeConfiguration(config, undefined, "/work/project"), config);
  assert.equal(
    completeConfiguration({ type: "twdsl", request: "launch", name: "x" }, "twdsl", "/work/project"),
    'The launch configuration has no "program": the .twdsl file (or compiled .json) to debug.',
  );
});

test("package.json contributes the debugger with the launch fields twdsl debug reads", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const [debuggerEntry] = pkg.contributes.debuggers;
  assert.equal(debuggerEntry.type, "twdsl");
  assert.deepEqual(pkg.contributes.breakpoints, [{ language: "twdsl" }]);
  assert.deepEqual(Object.keys(debuggerEntry.configurationAttributes.launch.properties).sort(), [
    "config", "cwd", "input", "inputs", "inputsFile", "maxConcurrency", "optimize", "program", "stopOnEntry", "workflow",
  ]);
  assert.deepEqual(debuggerEntry.initialConfigurations, [{ ...DEFAULT_CONFIGURATION, inputs: {} }]);
});
