// The debugger of the extension: VS Code starts `twdsl debug` (a Debug Adapter Protocol
// server on stdio) for launch configurations of type "twdsl" (docs/debugging.md).

import * as vscode from "vscode";

import { DEBUG_TYPE, completeConfiguration, resolveDebugCommand } from "./debug";
import { ServerCommandError, findExecutable, notFoundMessage, userHome } from "./server";

export function registerDebugger(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
      resolveDebugConfiguration(folder, config) {
        const done = completeConfiguration(
          config,
          vscode.window.activeTextEditor?.document.languageId,
          folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined,
        );
        if (typeof done === "string") {
          void vscode.window.showErrorMessage(`TWDSL: ${done}`);
          return undefined; // the session does not start
        }
        return done as vscode.DebugConfiguration;
      },
    }),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
      createDebugAdapterDescriptor(session) {
        const folder = session.workspaceFolder ?? vscode.workspace.workspaceFolders?.[0];
        const cwd = folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined;
        const config = vscode.workspace.getConfiguration("twdsl", folder);
        let cmd;
        try {
          cmd = resolveDebugCommand(
            {
              command: config.get<string[]>("server.command") ?? [],
              pythonPath: config.get<string>("server.pythonPath") ?? "",
            },
            { workspaceFolder: cwd, userHome: userHome() },
          );
        } catch (err) {
          if (err instanceof ServerCommandError) {
            throw new Error(`TWDSL: ${err.message}`);
          }
          throw err;
        }
        if (findExecutable(cmd.command, process.env.PATH, cwd) === undefined) {
          throw new Error(notFoundMessage(cmd).replace("the language server", "the debugger"));
        }
        return new vscode.DebugAdapterExecutable(cmd.command, cmd.args, {
          cwd,
          env: { ...process.env, PYTHONUNBUFFERED: "1" } as { [key: string]: string },
        });
      },
    }),
  );
}
