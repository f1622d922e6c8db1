// How the TWDSL language server is started: the command read from the settings, with
// variables substituted and the program looked up on PATH before anything is spawned.
//
// This module does not import `vscode`, so that it can be unit-tested with plain Node
// (tests/unit/server.test.ts): the extension passes it the settings' values.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The settings that decide how the server starts (`twdsl.server.*`). */
export interface ServerSettings {
  /** `twdsl.server.command`: the program, then its arguments. */
  command: readonly string[];
  /** `twdsl.server.pythonPath`: when not empty, run `<python> -m twdsl.cli lsp`. */
  pythonPath: string;
}

/** Values the settings may refer to as `${workspaceFolder}`, `${userHome}` or `~`. */
export interface Variables {
  workspaceFolder?: string;
  userHome: string;
}

/** A resolved server command, ready to spawn. */
export interface ServerCommand {
  command: string;
  args: string[];
  /** Which setting it came from, named in messages so the user knows what to change. */
  setting: "twdsl.server.command" | "twdsl.server.pythonPath";
}

/** A reason the server cannot be started, worded for the user. */
export class ServerCommandError extends Error {}

/** The default of `twdsl.server.command`; kept equal to package.json's. */
export const DEFAULT_COMMAND: readonly string[] = ["twdsl", "lsp"];

/** The advice every "cannot start" message ends with. */
export const INSTALL_HINT =
  "Install it with `pip install twdsl`, or set `twdsl.server.pythonPath` to a Python " +
  "interpreter that has twdsl installed (for example the one of your virtual environment).";

/** Replace `${workspaceFolder}`, `${userHome}` and a leading `~` in one setting value. */
export function substituteVariables(value: string, vars: Variables): string {
  let out = value.replace(/\$\{(workspaceFolder|userHome)\}/g, (_whole, name: string) => {
    if (name === "userHome") {
      return vars.userHome;
    }
    if (vars.workspaceFolder === undefined) {
      throw new ServerCommandError(
        `The setting refers to \${workspaceFolder} in "${value}", but no folder is open.`,
      );
    }
    return vars.workspaceFolder;
  });
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    out = vars.userHome + out.slice(1);
  }
  return out;
}

/** Turn the settings into the program and arguments to spawn (nothing is checked on disk). */
export function resolveServerCommand(settings: ServerSettings, vars: Variables): ServerCommand {
  const python = settings.pythonPath.trim();
  if (python !== "") {
    return {
      command: substituteVariables(python, vars),
      args: ["-m", "twdsl.cli", "lsp"],
      setting: "twdsl.server.pythonPath",
    };
  }
  const parts = settings.command.length > 0 ? settings.command : DEFAULT_COMMAND;
  if (typeof parts[0] !== "string" || parts[0].trim() === "") {
    throw new ServerCommandError(
      "The setting `twdsl.server.command` must start with the program to run, " +
        'such as ["twdsl", "lsp"].',
    );
  }
  const [program, ...args] = parts.map((p) => substituteVariables(String(p), vars));
  return { command: program, args, setting: "twdsl.server.command" };
}

/** Whether `file` exists and (on POSIX) may be executed. */
function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) {
      return false;
    }
    if (process.platform !== "win32") {
      fs.accessSync(file, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Find `program` the way the spawn would: a path with a separator is taken relative to `cwd`;
 * a bare name is searched in `envPath` (and with PATHEXT's extensions on Windows).
 * Returns the file found, or undefined.
 */
export function findExecutable(
  program: string,
  envPath: string | undefined,
  cwd: string | undefined,
  platform: NodeJS.Platform = process.platform,
  pathExt: string | undefined = process.env.PATHEXT,
): string | undefined {
  const exts = platform === "win32" ? ["", ...(pathExt ?? ".COM;.EXE;.BAT;.CMD").split(";")] : [""];
  const sep = platform === "win32" ? ";" : ":";
  if (program.includes("/") || (platform === "win32" && program.includes("\\"))) {
    const full = path.resolve(cwd ?? process.cwd(), program);
    return exts.map((e) => full + e).find(isExecutable);
  }
  for (const dir of (envPath ?? "").split(sep)) {
    if (dir === "") {
      continue;
    }
    for (const ext of exts) {
      const candidate = path.join(dir, program + ext);
      if (isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** The message shown when the program of the server command cannot be found. */
export function notFoundMessage(cmd: ServerCommand): string {
  if (cmd.setting === "twdsl.server.pythonPath") {
    return (
      `TWDSL: the Python interpreter "${cmd.command}" set in \`twdsl.server.pythonPath\` ` +
      "was not found. Set it to an existing interpreter that has twdsl installed " +
      "(`pip install twdsl`), or clear it to use `twdsl.server.command`."
    );
  }
  return `TWDSL: cannot start the language server: "${cmd.command}" was not found. ${INSTALL_HINT}`;
}

/** The message shown when the server started but stopped before it answered. */
export function exitedMessage(cmd: ServerCommand): string {
  const line = [cmd.command, ...cmd.args].join(" ");
  return (
    `TWDSL: the language server (\`${line}\`, from \`${cmd.setting}\`) stopped before it ` +
    `was ready; its output is in the "TWDSL Language Server" channel. ${INSTALL_HINT}`
  );
}

/** The default home directory for `${userHome}`. */
export function userHome(): string {
  return os.homedir();
}
