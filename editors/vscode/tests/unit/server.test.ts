// Unit tests of the server command resolution (src/server.ts), run with `node --test`
// after esbuild bundles them (`npm run test:unit`); no VS Code needed.

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import {
  ServerCommandError,
  exitedMessage,
  findExecutable,
  notFoundMessage,
  resolveServerCommand,
  substituteVariables,
} from "../../src/server";

const vars = { workspaceFolder: "/work/project", userHome: "/home/ada" };

test("the default command is twdsl lsp", () => {
  assert.deepEqual(resolveServerCommand({ command: ["twdsl", "lsp"], pythonPath: "" }, vars), {
    command: "twdsl",
    args: ["lsp"],
    setting: "twdsl.server.command",
  });
});

test("an empty command array falls back to the default", () => {
  assert.deepEqual(resolveServerCommand({ command: [], pythonPath: "  " }, vars), {
    command: "twdsl",
    args: ["lsp"],
    setting: "twdsl.server.command",
  });
});

test("pythonPath wins over the command and runs the module", () => {
  const cmd = resolveServerCommand(
    { command: ["other", "lsp"], pythonPath: "${workspaceFolder}/.venv/bin/python" },
    vars,
  );
  assert.deepEqual(cmd, {
    command: "/work/project/.venv/bin/python",
    args: ["-m", "twdsl.cli", "lsp"],
    setting: "twdsl.server.pythonPath",
  });
});

test("variables and ~ are substituted in every part of the command", () => {
  const cmd = resolveServerCommand(
    { command: ["~/bin/twdsl", "lsp", "--log", "${userHome}/lsp.log"], pythonPath: "" },
    vars,
  );
  assert.equal(cmd.command, "/home/ada/bin/twdsl");
  assert.deepEqual(cmd.args, ["lsp", "--log", "/home/ada/lsp.log"]);
  assert.equal(substituteVariables("a~b", vars), "a~b");
});

test("${workspaceFolder} without an open folder is a clear error", () => {
  assert.throws(
    () => substituteVariables("${workspaceFolder}/python", { userHome: "/h" }),
    (err: unknown) =>
      err instanceof ServerCommandError &&
      err.message === 'The setting refers to ${workspaceFolder} in "${workspaceFolder}/python", but no folder is open.',
  );
});

test("a command whose program is empty is a clear error", () => {
  assert.throws(
    () => resolveServerCommand({ command: ["", "lsp"], pythonPath: "" }, vars),
    /must start with the program to run/,
  );
});

test("findExecutable searches PATH and resolves relative paths", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "twdsl-vscode-"));
  try {
    const exe = path.join(dir, "twdsl");
    fs.writeFileSync(exe, "#!/bin/sh\n");
    fs.chmodSync(exe, 0o755);
    const plain = path.join(dir, "not-executable");
    fs.writeFileSync(plain, "");
    fs.chmodSync(plain, 0o644);
    assert.equal(findExecutable("twdsl", `/nonexistent:${dir}`, undefined, "linux"), exe);
    assert.equal(findExecutable("twdsl", "/nonexistent", undefined, "linux"), undefined);
    assert.equal(findExecutable("twdsl", undefined, undefined, "linux"), undefined);
    assert.equal(findExecutable("./twdsl", "", dir, "linux"), exe);
    assert.equal(findExecutable(exe, "", "/", "linux"), exe);
    assert.equal(findExecutable("not-executable", dir, undefined, "linux"), undefined);
    assert.equal(findExecutable(dir, "", "/", "linux"), undefined); // a folder is not a program
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("messages say how to install twdsl and which setting to change", () => {
  const fromCommand = resolveServerCommand({ command: ["twdsl", "lsp"], pythonPath: "" }, vars);
  assert.equal(
    notFoundMessage(fromCommand),
    'TWDSL: cannot start the language server: "twdsl" was not found. Install it with ' +
      "`pip install twdsl`, or set `twdsl.server.pythonPath` to a Python interpreter that has " +
      "twdsl installed (for example the one of your virtual environment).",
  );
  const fromPython = resolveServerCommand({ command: [], pythonPath: "/usr/bin/python9" }, vars);
  assert.equal(
    notFoundMessage(fromPython),
    'TWDSL: the Python interpreter "/usr/bin/python9" set in `twdsl.server.pythonPath` was not ' +
      "found. Set it to an existing interpreter that has twdsl installed (`pip install twdsl`), " +
      "or clear it to use `twdsl.server.command`.",
  );
  assert.match(exitedMessage(fromPython), /^TWDSL: the language server \(`\/usr\/bin\/python9 -m twdsl.cli lsp`, from `twdsl.server.pythonPath`\) stopped before it was ready/);
  assert.match(exitedMessage(fromPython), /pip install twdsl/);
});
