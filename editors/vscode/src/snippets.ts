// The extension's own snippets (snippets/twdsl.json), offered only while the language server
// is not running. When it runs, its completion knows where the cursor is and offers the
// snippets that fit there (inside a task body: its fields, no `workflow` or `parallel`);
// static snippets, which VS Code would show everywhere, would crowd that list.
//
// No `vscode` import: tests/unit/snippets.test.ts reads the real file with plain Node.

import * as fs from "node:fs";

/** One snippet as VS Code's snippet files write it. */
export interface Snippet {
  name: string;
  prefix: string;
  body: string;
  description: string;
}

/** The snippets of a VS Code snippet file (body lines joined), in the file's order. */
export function readSnippets(file: string): Snippet[] {
  const data = JSON.parse(fs.readFileSync(file, "utf8")) as Record<
    string,
    { prefix: string | string[]; body: string | string[]; description?: string }
  >;
  const out: Snippet[] = [];
  for (const [name, s] of Object.entries(data)) {
    const prefixes = Array.isArray(s.prefix) ? s.prefix : [s.prefix];
    const body = Array.isArray(s.body) ? s.body.join("\n") : s.body;
    for (const prefix of prefixes) {
      out.push({ name, prefix, body, description: s.description ?? name });
    }
  }
  return out;
}
