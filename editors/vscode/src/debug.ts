// How the TWDSL debug adapter is started: `twdsl debug`, through the same settings that start
// the language server (`twdsl.server.pythonPath`, else `twdsl.server.command` with its `lsp`
// argument replaced by `debug`), and what a launch configuration gets by default.
//
// This module does not import `vscode`, so that it can be unit-tested with plain Node
// (tests/unit/debug.test.ts): the extension passes it the settings' values.

import { ServerCommand, ServerCommandError, ServerSettings, Variables, resolveServerCommand } from "./server";

/** The debug type contributed in package.json. */
export const DEBUG_TYPE = "twdsl";

/** A resolved adapter command, ready to spawn. */
export type DebugCommand = ServerCommand;

/** The command that starts `twdsl debug`, from the settings that start `twdsl lsp`. */
export function resolveDebugCommand(settings: ServerSettings, vars: Variables): DebugCommand {
  const server = resolveServerCommand(settings, vars);
  if (server.setting === "twdsl.server.pythonPath") {
    return { ...server, args: ["-m", "twdsl.cli", "debug"] };
  }
  const at = server.args.indexOf("lsp");
  if (at < 0) {
    throw new ServerCommandError(
      "The setting `twdsl.server.command` has no `lsp` argument to replace with `debug`, so " +
        "the debugger cannot be started from it; set `twdsl.server.pythonPath` instead.",
    );
  }
  const args = [...server.args];
  args[at] = "debug";
  return { ...server, args };
}

/** A launch configuration as VS Code hands it over (only the fields looked at here). */
export interface LaunchConfiguration {
  type?: string;
  request?: string;
  name?: string;
  program?: string;
  cwd?: string;
  [key: string]: unknown;
}

/** The configuration of F5 with no launch.json: debug the file in the active editor. */
export const DEFAULT_CONFIGURATION: LaunchConfiguration = {
  type: DEBUG_TYPE,
  request: "launch",
  name: "Debug workflow",
  program: "${file}",
};

/**
 * A configuration completed before it starts: the default one when the user has none (F5 on a
 * .twdsl file with no launch.json), the workspace folder as `cwd`. Returns a message instead
 * when it cannot run.
 */
export function completeConfiguration(
  config: LaunchConfiguration,
  activeLanguage: string | undefined,
  folder: string | undefined,
): LaunchConfiguration | string {
  let out: LaunchConfiguration = { ...config };
  if (!out.type && !out.request && !out.name) {
    if (activeLanguage !== "twdsl") {
      return "Open a .twdsl file to debug it, or add a TWDSL launch configuration to launch.json.";
    }
    out = { ...DEFAULT_CONFIGURATION };
  }
  if (typeof out.program !== "string" || out.program.trim() === "") {
    return 'The launch configuration has no "program": the .twdsl file (or compiled .json) to debug.';
  }
  if (out.cwd === undefined && folder !== undefined) {
    out.cwd = folder;
  }
  return out;
}
