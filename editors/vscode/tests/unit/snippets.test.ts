// Unit tests of src/snippets.ts on the extension's real snippet file. Run by
// `npm run test:unit` from the extension's folder.

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import { readSnippets } from "../../src/snippets";

test("the snippet file is read whole, bodies joined by line", () => {
  const snippets = readSnippets(path.resolve("snippets/twdsl.json"));
  const raw = JSON.parse(fs.readFileSync("snippets/twdsl.json", "utf8"));
  assert.equal(snippets.length, Object.keys(raw).length);
  const task = snippets.find((s) => s.prefix === "task");
  assert.deepEqual(task, {
    name: "Task",
    prefix: "task",
    body: raw.Task.body.join("\n"),
    description: raw.Task.description,
  });
});

test("a snippet with several prefixes gives one entry each", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "twdsl-snippets-"));
  const file = path.join(dir, "s.json");
  fs.writeFileSync(file, JSON.stringify({ If: { prefix: ["if", "when"], body: "if ($1) {}" } }));
  assert.deepEqual(readSnippets(file), [
    { name: "If", prefix: "if", body: "if ($1) {}", description: "If" },
    { name: "If", prefix: "when", body: "if ($1) {}", description: "If" },
  ]);
  fs.rmSync(dir, { recursive: true });
});
