"""twdsl.ide: each editor feature on real files, asserting exact items, spans and edits."""

from __future__ import annotations

from pathlib import Path

import pytest

import twdsl.ide as ide
from twdsl.ide.info import format_ms, worst_case
from twdsl.syntax.parser import parse

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "lsp"
MAIN = (FIX / "main.twdsl").read_text()
LIB = (FIX / "lib.twdsl").read_text()
EXAMPLE = (ROOT / "examples" / "create_full_stack_app.twdsl").read_text()


@pytest.fixture(scope="module")
def ws() -> ide.Workspace:
    snaps = ide.analyze_documents({"main.twdsl": MAIN, "lib.twdsl": LIB})
    assert [d.message for s in snaps.values() for d in s.analysis.diagnostics] == []
    return ide.Workspace(snaps.values())


def off(text: str, marker: str, k: int = 0) -> int:
    assert text.count(marker) >= 1, marker
    return text.index(marker) + k


def pos(span) -> tuple[str, int, int, int, int]:
    return (span.file, span.line, span.column, span.end_line, span.end_column)


def labels(text: str, offset: int, snap: ide.Snapshot | None) -> list[str]:
    items, _ = ide.complete(text, offset, snap, "main.twdsl")
    return [i.label for i in items]


def edit_at(text: str, marker: str, insert: str) -> tuple[str, int]:
    """``text`` with ``insert`` typed right after ``marker``, and the cursor after it."""
    i = off(text, marker, len(marker))
    return text[:i] + insert + text[i:], i + len(insert)


# ----------------------------------------------------------------------------- completion
def test_completion_at_module_level_offers_declaration_keywords_and_snippets() -> None:
    items, start = ide.complete("", 0, None)
    assert start == 0
    assert [(i.label, i.kind) for i in items] == [
        ("abstract", "keyword"), ("agent", "keyword"), ("export", "keyword"),
        ("final", "keyword"), ("import", "keyword"), ("template", "keyword"),
        ("type", "keyword"), ("workflow", "keyword"),
        ("workflow", "snippet"), ("agent", "snippet"), ("template", "snippet")]


def test_completion_in_a_task_offers_the_fields_not_yet_set(ws: ide.Workspace) -> None:
    text, cur = edit_at(MAIN, "    retry: 3\n", "    pri")
    items, start = ide.complete(text, cur, ws.snapshots["main.twdsl"], "main.twdsl")
    assert start == cur - 3  # the word being typed is replaced
    fields = [(i.label, i.insert_text) for i in items if i.kind == "field"]
    assert fields == [("description", "description: "), ("depends", "depends: "),
                      ("on_error", "on_error: "), ("on_success", "on_success: "),
                      ("cache", "cache: "), ("priority", "priority: "), ("when", "when: ")]
    doc = next(i.documentation for i in items if i.label == "priority")
    assert doc == "Scheduling priority when work queues up: a number, higher first."
    # a task cannot hold statements: no statement keywords or snippets
    assert not [i for i in items if i.kind == "keyword"]
    assert [i.label for i in items if i.kind == "snippet"] == ["on_error handler"]


def test_completion_in_a_workflow_offers_keywords_valid_there(ws: ide.Workspace) -> None:
    text, cur = edit_at(MAIN, '  use Review(reviewer: "ana")\n', "  ")
    items, _ = ide.complete(text, cur, ws.snapshots["main.twdsl"], "main.twdsl")
    assert [i.label for i in items if i.kind == "keyword"] == [
        "abstract", "break", "continue", "final", "foreach", "if", "input", "output",
        "override", "parallel", "sequence", "switch", "task", "use", "while"]
    assert [i.label for i in items if i.kind == "field"] == [
        "description", "tags", "schedule", "timeout", "max_concurrency", "retry", "on_error",
        "on_success"]  # version is set already
    task = next(i for i in items if i.label == "task" and i.kind == "snippet")
    assert task.insert_text == "task ${1:name} {\n  agent: ${2:Agent}\n  input: {\n    $0\n  }\n}"


def test_completion_after_else_position_offers_else(ws: ide.Workspace) -> None:
    text = 'workflow W {\n  version: "1.0.0"\n  if (true) {\n  }\n  '
    assert "else" in labels(text, len(text), None)
    text2 = 'workflow W {\n  version: "1.0.0"\n  '
    assert "else" not in labels(text2, len(text2), None)


def test_completion_of_agents(ws: ide.Workspace) -> None:
    text, cur = edit_at(MAIN, "    agent: ", "")
    items, start = ide.complete(text, cur, ws.snapshots["main.twdsl"], "main.twdsl")
    assert [(i.label, i.kind, i.detail) for i in items] == [
        ("Builder", "agent", "agent Builder: { name: string, flags: array<string> } -> "
                             "{ path: string, size: number }")]
    assert start == cur


def test_completion_of_task_names_in_depends(ws: ide.Workspace) -> None:
    text, cur = edit_at(MAIN, "    depends: [", "")
    assert labels(text, cur, ws.snapshots["main.twdsl"]) == ["build"]  # not publish itself


def test_completion_of_task_members_and_result_fields(ws: ide.Workspace) -> None:
    snap = ws.snapshots["main.twdsl"]
    text, cur = edit_at(MAIN, "    where: string = build.", "")
    items, _ = ide.complete(text, cur, snap, "main.twdsl")
    assert [(i.label, i.detail) for i in items] == [
        ("result", "{ path: string, size: number }"), ("status", "string"),
        ("error", "the failure, if any"), ("attempts", "number"), ("duration", "duration?"),
        ("started_at", "datetime?"), ("finished_at", "datetime?"), ("previous", "result?")]
    text, cur = edit_at(MAIN, "    where: string = build.result.", "")
    items, _ = ide.complete(text, cur, snap, "main.twdsl")
    assert [(i.label, i.kind, i.detail) for i in items] == [
        ("path", "property", "string"), ("size", "property", "number"),
        ("keys", "method", "keys() -> array<string>"),
        ("values", "method", "values() -> array<any>"),
        ("has", "method", "has(string) -> boolean")]


def test_completion_of_input_record_fields_and_string_methods(ws: ide.Workspace) -> None:
    snap = ws.snapshots["main.twdsl"]
    text, cur = edit_at(MAIN, "flags: [stack.", "")
    assert labels(text, cur, snap)[:2] == ["frontend", "backend"]
    text, cur = edit_at(MAIN, "flags: [stack.frontend", ".")
    assert labels(text, cur, snap) == ["startsWith", "endsWith", "contains", "length", "upper",
                                       "lower", "trim", "split", "replace"]


def test_completion_in_an_expression_offers_names_in_scope(ws: ide.Workspace) -> None:
    text, cur = edit_at(MAIN, "    where: string = ", "")
    items, _ = ide.complete(text, cur, ws.snapshots["main.twdsl"], "main.twdsl")
    got = [(i.label, i.kind) for i in items]
    assert got[:4] == [("project", "input"), ("stack", "input"), ("build", "task"),
                       ("publish", "task")]
    assert ("len", "function") in got and ("env", "value") in got and ("true", "keyword") in got


def test_completion_of_template_parameters(ws: ide.Workspace) -> None:
    text, cur = edit_at(MAIN, 'use Review(reviewer: "ana"', ", ")
    items, _ = ide.complete(text, cur, ws.snapshots["main.twdsl"], "main.twdsl")
    assert [(i.label, i.detail) for i in items] == [("rounds", "number (has a default)")]


def test_completion_of_agent_inputs_not_yet_given(ws: ide.Workspace) -> None:
    text, cur = edit_at(MAIN, '    input: { name: "${project}-docs", ', "")
    items, _ = ide.complete(text, cur, ws.snapshots["main.twdsl"], "main.twdsl")
    assert [(i.label, i.detail) for i in items] == [("flags", "flags: array<string>")]


def test_completion_of_types_error_kinds_and_actions() -> None:
    text = "agent A {\n  input {\n    x: "
    assert labels(text, len(text), None)[:3] == ["string", "number", "boolean"]
    text = 'workflow W {\n  task a {\n    on_error: {\n      when: ['
    assert labels(text, len(text), None) == ["timeout", "agent", "transient", "validation",
                                             "cancelled"]
    text = 'workflow W {\n  task a {\n    on_error: '
    assert labels(text, len(text), None) == ["skip", "continue", "fail"]
    text = 'workflow W {\n  task a {\n    retry: { '
    assert labels(text, len(text), None) == ["attempts", "delay", "backoff", "max_delay",
                                             "jitter", "on"]


def test_completion_of_loop_variables_in_a_foreach() -> None:
    src = ('agent A { input { x: string } output { y: string } }\nworkflow W {\n  version: "1.0.0"\n'
           '  input { names: array<string> }\n  foreach n, i in names {\n    task t { agent: A '
           'input: { x: n } }\n  }\n}\n')
    snap = ide.snapshot(src, "w.twdsl")
    text, cur = edit_at(src, "input: { x: ", "n.")
    assert labels(text, cur, snap)[:3] == ["startsWith", "endsWith", "contains"]
    text, cur = edit_at(src, "input: { x: ", "")
    assert labels(text, cur, snap)[:3] == ["n", "i", "names"]


def test_completion_is_empty_in_comments_and_strings() -> None:
    text = "workflow W {\n  // a comment "
    assert labels(text, len(text), None) == []
    text = 'workflow W {\n  description: "some '
    assert labels(text, len(text), None) == []


# ------------------------------------------------------------------------------ navigation
def test_definition_and_references_of_a_task(ws: ide.Workspace) -> None:
    o = off(MAIN, "build.result", 1)
    assert [pos(s) for s in ide.definition(ws, "main.twdsl", o)] == [
        ("main.twdsl", 15, 8, 15, 13)]
    assert [pos(s) for s in ide.references(ws, "main.twdsl", o)] == [
        ("main.twdsl", 12, 21, 12, 26), ("main.twdsl", 15, 8, 15, 13),
        ("main.twdsl", 24, 15, 24, 20)]
    assert [pos(s) for s in ide.references(ws, "main.twdsl", o, False)] == [
        ("main.twdsl", 12, 21, 12, 26), ("main.twdsl", 24, 15, 24, 20)]


def test_definition_and_rename_across_files(ws: ide.Workspace) -> None:
    o = off(MAIN, "agent: Builder", 9)
    assert [pos(s) for s in ide.definition(ws, "main.twdsl", o)] == [
        ("lib.twdsl", 1, 14, 1, 21)]
    assert pos(ide.prepare_rename(ws, "main.twdsl", o)) == ("main.twdsl", 16, 12, 16, 19)
    edits = ide.rename(ws, "main.twdsl", o, "Maker")
    assert {f: [(e.span.line, e.span.column, e.new_text) for e in es]
            for f, es in edits.items()} == {
        "lib.twdsl": [(1, 14, "Maker")],
        "main.twdsl": [(1, 10, "Maker"), (16, 12, "Maker"), (23, 12, "Maker")]}


def test_definition_of_an_input_a_type_and_a_template(ws: ide.Workspace) -> None:
    assert [pos(s) for s in ide.definition(ws, "main.twdsl", off(MAIN, "stack.frontend"))] == [
        ("main.twdsl", 9, 5, 9, 10)]
    assert [pos(s) for s in ide.definition(ws, "main.twdsl", off(MAIN, "stack: Stack", 8))] == [
        ("main.twdsl", 3, 6, 3, 11)]
    assert [pos(s) for s in ide.definition(ws, "main.twdsl", off(MAIN, "use Review", 5))] == [
        ("lib.twdsl", 13, 17, 13, 23)]


def test_rename_refuses_keywords_and_non_names(ws: ide.Workspace) -> None:
    o = off(MAIN, "build.result", 1)
    with pytest.raises(ide.RenameError, match="'task' is a keyword"):
        ide.rename(ws, "main.twdsl", o, "task")
    with pytest.raises(ide.RenameError, match="'2x' is not a name"):
        ide.rename(ws, "main.twdsl", o, "2x")
    assert ide.prepare_rename(ws, "main.twdsl", off(MAIN, "version")) is None


def test_document_and_workspace_symbols(ws: ide.Workspace) -> None:
    syms = ide.document_symbols(ws, "main.twdsl")
    assert [(s.name, s.kind, pos(s.name_span)[1:3], [(c.name, c.kind) for c in s.children])
            for s in syms] == [
        ("Stack", "type", (3, 6), []),
        ("Ship", "workflow", (5, 10), [("project", "input"), ("stack", "input"),
                                       ("where", "output"), ("build", "task"),
                                       ("publish", "task")])]
    assert [(s.name, s.name_span.file) for s in ide.workspace_symbols(ws, "bld")] == [
        ("Builder", "lib.twdsl"), ("build", "main.twdsl")]


# ------------------------------------------------------------------------------ hover
def test_hover_of_an_agent_a_task_a_field_and_a_builtin(ws: ide.Workspace) -> None:
    h = ide.hover(ws, "main.twdsl", off(MAIN, "agent: Builder", 9))
    assert h is not None and pos(h.span) == ("main.twdsl", 16, 12, 16, 19)
    assert h.markdown == ("```twdsl\nagent Builder\n  input { name: string, flags: array<string> }"
                          "\n  output { path: string, size: number }\n```\n\nBuilds a project."
                          "\n\nfrom `lib.twdsl`")
    h = ide.hover(ws, "main.twdsl", off(MAIN, "build.result", 2))
    assert h is not None and h.markdown == ("```twdsl\ntask build\n  agent: Builder\n"
                                            "  result: { path: string, size: number }\n```")
    h = ide.hover(ws, "main.twdsl", off(MAIN, "timeout: 10s", 2))
    assert h is not None and h.markdown == ("```twdsl\n(field) timeout\n```\n\nTime limit, a "
                                            "duration such as `30s`, `5m` or `1h`.")
    h = ide.hover(ws, "main.twdsl", off(MAIN, "stack.frontend", 1))
    assert h is not None and h.markdown == "```twdsl\n(input) stack: Stack\n```"
    src = 'workflow W { version: "1.0.0" output { n: number = len("ab") } }'
    w2 = ide.Workspace([ide.snapshot(src, "w.twdsl")])
    h = ide.hover(w2, "w.twdsl", off(src, "len"))
    assert h is not None and h.markdown == ("```twdsl\n(builtin) len\n```\n\nlen(x): the length "
                                            "of a string, array or object.")


# ------------------------------------------------------------------- signatures and hints
def test_signature_help_of_builtins_methods_and_templates(ws: ide.Workspace) -> None:
    text = 'workflow W { version: "1.0.0" output { n: number = range(1, '
    h = ide.signature_help(text, len(text), None)
    assert h is not None
    assert [(s.label, s.params) for s in h.signatures] == [("range(n)", ("n",)),
                                                           ("range(a, b)", ("a", "b"))]
    assert (h.active_signature, h.active_parameter) == (1, 1)
    text = 'workflow W { version: "1.0.0" output { n: array<string> = xs.filter('
    h = ide.signature_help(text, len(text), None)
    assert h is not None and [s.label for s in h.signatures] == [
        "array<T>.filter(T => boolean) -> array<T>"]
    text, cur = edit_at(MAIN, 'use Review(reviewer: "ana"', ", rounds: ")
    h = ide.signature_help(text, cur, ws.snapshots["main.twdsl"])
    assert h is not None and h.signatures[0].label == \
        "use Review(reviewer: string, rounds: number = 2)"
    assert h.active_parameter == 1
    assert ide.signature_help("workflow W { ", 13, None) is None


def test_inlay_hints_give_result_types_and_the_worst_case_of_a_retry(ws: ide.Workspace) -> None:
    hints = ide.inlay_hints(ws.snapshots["main.twdsl"])
    assert [(h.offset, h.label) for h in hints] == [
        (off(MAIN, "task build", 10), ": { path: string, size: number }"),
        (off(MAIN, "retry: 3", 8), " ≤ 47s worst case"),
        (off(MAIN, "task publish", 12), ": { path: string, size: number }")]


def test_worst_case_of_a_policy() -> None:
    src = ('agent A { timeout: 10s }\n'
           'workflow W { retry: { attempts: 2 delay: 500ms backoff: 3 } task a { agent: A } }')
    snap = ide.snapshot(src, "w.twdsl")
    w = snap.module.items[1]
    # the agent's timeout and the workflow's retry: the policy the task runs with
    assert worst_case(snap, w.body.items[1], w) == 3 * 10 + 0.5 + 1.5
    assert format_ms(32_000) == "32s"


# ------------------------------------------------------------------ folding and tokens
def test_folding_ranges(ws: ide.Workspace) -> None:
    folds = ide.folding_ranges(ws.snapshots["main.twdsl"])
    assert [(f.start_line, f.end_line, f.kind) for f in folds] == [
        (5, 28, "region"), (7, 9, "region"), (11, 12, "region"), (15, 19, "region"),
        (22, 25, "region")]
    snap = ide.snapshot(EXAMPLE, "x.twdsl")
    assert (1, 7, "comment") in [(f.start_line, f.end_line, f.kind)
                                 for f in ide.folding_ranges(snap)]


def test_semantic_tokens_name_what_names_mean(ws: ide.Workspace) -> None:
    toks = ide.semantic_tokens(ws, "main.twdsl")
    line16 = [(t.span.column, t.span.end_column, t.type, t.modifiers) for t in toks
              if t.span.line == 16]
    assert line16 == [(5, 10, "property", ()), (12, 19, "interface", ())]
    line15 = [(t.span.column, t.type, t.modifiers) for t in toks if t.span.line == 15]
    assert line15 == [(8, "function", ("declaration",))]
    line12 = [(t.span.column, t.type) for t in toks if t.span.line == 12]
    assert line12 == [(5, "property"), (21, "function"), (27, "property"), (34, "property")]


# ------------------------------------------------------------------ actions and formatting
def test_code_actions_offer_the_fix_and_a_suppression() -> None:
    src = ('workflow W {\n  version: "1.0.0"\n  input { n: number }\n  task a { agent: "X" '
           'timout: 5m }\n}\n')
    snap = ide.snapshot(src, "w.twdsl")
    assert [(d.code, d.span.line) for d in snap.analysis.diagnostics] == [
        ("TW504", 3), ("TW120", 4)]
    actions = ide.code_actions(snap, snap.analysis.diagnostics)
    assert [(a.title, a.preferred) for a in actions] == [
        ("rename to 'timeout'", True),
        ("Suppress TW504 (unused-input) on this line", False),
        ("Suppress TW120 (unknown-field) on this line", False)]
    suppress = actions[1].edits[0]
    assert (suppress.span.line, suppress.span.column, suppress.new_text) == (
        3, 1, "  // twdsl-ignore: TW504\n")
    fixed = src[:suppress.span.start] + suppress.new_text + src[suppress.span.end:]
    assert [d.code for d in ide.snapshot(fixed, "w.twdsl").analysis.diagnostics] == ["TW120"]


def test_suppression_extends_an_existing_comment() -> None:
    src = ('workflow W {\n  version: "1.0.0"\n  // twdsl-ignore: TW999\n  input { n: number }\n}\n')
    snap = ide.snapshot(src, "w.twdsl")
    d = next(d for d in snap.analysis.diagnostics if d.code == "TW504")
    edit = ide.code_actions(snap, [d])[0].edits[0]
    assert (edit.span.line, edit.span.column, edit.new_text) == (3, 25, ", TW504")


def test_syntax_errors_cannot_be_suppressed() -> None:
    snap = ide.snapshot("workflow W { version: }", "w.twdsl")
    assert [a.title for a in ide.code_actions(snap, snap.analysis.diagnostics)] == []


def test_formatting_whole_and_range() -> None:
    src = 'workflow W {\nversion:"1.0.0"\n  task a {agent:"X"}\n  task b { agent:"Y" }\n}\n'
    snap = ide.snapshot(src, "w.twdsl")
    whole = ide.format_edits(snap)
    assert len(whole) == 1 and whole[0].new_text == (
        'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "X"\n  }\n  task b {\n'
        '    agent: "Y"\n  }\n}\n')
    # range formatting keeps the changed runs of lines that touch the range
    src = 'workflow W {\nversion:"1.0.0"\n  task a {\n    agent: "X"\n  }\n  task b {agent:"Y"}\n}\n'
    snap = ide.snapshot(src, "w.twdsl")
    assert [(e.span.line, e.span.end_line, e.new_text) for e in ide.format_edits(snap, 2, 2)] == [
        (2, 3, '  version: "1.0.0"\n')]
    assert [(e.span.line, e.span.end_line, e.new_text) for e in ide.format_edits(snap, 6, 6)] == [
        (6, 7, '  task b {\n    agent: "Y"\n  }\n')]
    assert ide.format_edits(ide.snapshot("workflow {", "w.twdsl")) == []


# ------------------------------------------------------------------------- robustness
def test_every_feature_answers_on_prefixes_of_a_real_file() -> None:
    """Typing the example from the start: every feature answers at every step (no raise)."""
    step = 53
    for end in range(0, len(EXAMPLE) + 1, step):
        text = EXAMPLE[:end]
        snap = ide.snapshot(text, "x.twdsl")
        ws = ide.Workspace([snap])
        ide.complete(text, end, snap, "x.twdsl")
        ide.signature_help(text, end, snap)
        for o in (0, end // 2, end):
            ide.hover(ws, "x.twdsl", o)
            ide.definition(ws, "x.twdsl", o)
            ide.references(ws, "x.twdsl", o)
        ide.semantic_tokens(ws, "x.twdsl")
        ide.folding_ranges(snap)
        ide.inlay_hints(snap)
        ide.code_actions(snap, snap.analysis.diagnostics)
        ide.format_edits(snap)


def test_completion_reuses_the_last_lexing_only_where_the_text_is_unchanged() -> None:
    """Completing after an edit gives what a fresh lexing gives (the token cache is kept per
    file up to the first changed character)."""
    from twdsl.ide import context

    snap = ide.snapshot(EXAMPLE, "x.twdsl")
    at = off(EXAMPLE, "frontend_output: generateFrontend.result\n", 41)
    first = labels(EXAMPLE[:at] + "        x: generateFrontend." + EXAMPLE[at:], at + 28, snap)
    edited = EXAMPLE[:at] + "        x: tech_stack." + EXAMPLE[at:]
    cached = labels(edited, at + 22, snap)
    context._LEXED.clear()
    fresh = labels(edited, at + 22, snap)
    assert first[:2] == ["result", "status"]
    assert cached == fresh == ["frontend", "backend", "database", "keys", "values", "has"]
