"""Benchmark input: a deterministic generator of valid TWDSL of about N lines.

The text exercises the language broadly, so that a parser's cost per line is measured on a
realistic mix rather than on one repeated construct: agent signatures, type declarations,
a template and its ``use``, and workflows with version/description/input/output, tasks
whose ``input`` objects hold nested objects, arrays, member access, method calls with
lambdas, string interpolation, durations and binary operators, ``depends``, ``timeout``,
retry policies, ``on_error`` handlers, ``parallel``/``sequence`` blocks, ``if``/``else if``/
``else``, ``switch``/``case``/``default``, ``foreach``, ``while``, ordering chains, and
``//`` and ``/* */`` comments.

The same ``lines`` always gives the same text (no randomness, no clock)::

    >>> text = generate(300)
    >>> text == generate(300), abs(text.count("\\n") - 300) <= 40
    (True, True)
"""

from __future__ import annotations

import sys

_FRAMEWORKS = ("react", "vue", "svelte", "angular", "solid")
_BACKENDS = ("fastapi", "express", "django", "rails", "gin")
_STAGES = ("build", "lint", "unit", "e2e", "deploy", "audit", "docs")


def _agents(u: int) -> list[str]:
    return [
        f"// Agent signatures for unit {u}",
        f"agent Builder{u} {{",
        f'  description: "Builds one artifact (unit {u})."',
        "  input {",
        "    framework: string",
        "    features: array<string>",
        "    options: {",
        "      minify: boolean",
        "      target: string?",
        "    }",
        "  }",
        "  output {",
        "    build_path: string",
        "    size: number",
        "    warnings: array<string>",
        "  }",
        "  timeout: 10m",
        "  retry: 2",
        "}",
        "",
        f"agent Checker{u} {{",
        "  input {",
        "    target: string",
        "    level: number",
        "  }",
        "  output {",
        "    passed: boolean",
        "    errors: array<string>",
        "    score: number",
        "  }",
        "  pure: true",
        "}",
        "",
        f"type Stack{u} = {{",
        "  frontend: string",
        "  backend: string",
        "  database: string?",
        "  replicas: array<number>",
        "}",
        "",
        "/* A template: typed, constrained parameters,",
        "   instantiated with `use` inside the workflows below. */",
        f"template Release{u}(env: string = \"staging\", replicas: number = 2 where "
        "{ min: 1, max: 10 }, notes: string?) {",
        f'  description: "Release steps, unit {u}"',
        f"  task publish{u} {{",
        f"    agent: Builder{u}",
        "    input: {",
        '      framework: "static"',
        '      features: ["release", env]',
        "      options: { minify: true, target: env }",
        "    }",
        "    timeout: 2m",
        "  }",
        "}",
        "",
    ]


def _task(name: str, u: int, k: int, depends: list[str], indent: str) -> list[str]:
    fw = _FRAMEWORKS[k % len(_FRAMEWORKS)]
    be = _BACKENDS[k % len(_BACKENDS)]
    stage = _STAGES[k % len(_STAGES)]
    dep = ", ".join(depends)
    lines = [
        f"task {name} {{",
        f"  agent: Builder{u}",
        f'  description: "{stage} step {k} for ${{project_name}} (${{tech_stack.frontend}})"',
        "  input: {",
        f'    framework: tech_stack.frontend ?? "{fw}"',
        f'    features: features.filter(f => f.startsWith("{stage}_") && f.length > {k % 5})',
        "    options: {",
        f"      minify: replicas * 2 + {k} >= 4 || !debug",
        f'      target: "{be}-${{workflow_id}}-{k}"',
        "    }",
        f"    labels: [\"{stage}\", \"{fw}\", env.REGION, tags[{k % 3}]]",
        f"    weights: [1, 2.5, -{k % 7}, (replicas + 1) / 2 % 3]",
        "    nested: {",
        "      depth: { a: { b: [1, 2, { c: true, d: null }] } }",
        "      names: features.map(x => x.toUpperCase()).join(\", \")",
        "    }",
        "  }",
    ]
    if depends:
        lines.append(f"  depends: [{dep}]")
    lines += [
        f"  timeout: {(k % 9) + 1}m",
        f"  retry: {{ attempts: {(k % 4) + 1}, delay: {(k % 5 + 1) * 100}ms, backoff: 2 }}",
        "  on_error: {",
        "    when: [timeout, transient]",
        "    retry: 2",
        f"    fallback: fallback{u}",
        "    then: continue",
        "  }",
        "}",
    ]
    return [indent + line if line else line for line in lines]


def _small_task(name: str, u: int, expr: str, indent: str) -> list[str]:
    lines = [
        f"task {name} {{",
        f"  agent: Checker{u}",
        f"  input: {{ target: {expr}, level: {len(name) % 4} }}",
        "  timeout: 500ms",
        "}",
    ]
    return [indent + line for line in lines]


def _chunk(kind: int, u: int, k: int, prev: list[str]) -> tuple[list[str], list[str]]:
    """One statement-level chunk of a workflow body; returns its lines and the task names
    it defines (for later `depends` and chains)."""
    i = "  "
    n = f"u{u}k{k}"
    if kind == 0:  # a rich task, depending on earlier ones
        name = f"build_{n}"
        return [f"{i}// Task {k}: the main build"] + _task(name, u, k, prev[-2:], i), [name]
    if kind == 1:  # parallel block
        a, b, c = f"front_{n}", f"back_{n}", f"db_{n}"
        lines = [f"{i}parallel {{", f"{i}  max_concurrency: 3", f"{i}  fail_fast: false"]
        lines += _task(a, u, k, [], i + "  ")
        lines += _task(b, u, k + 1, [], i + "  ")
        lines += _small_task(c, u, f'"${{tech_stack.database}}-{k}"', i + "  ")
        lines.append(f"{i}}}")
        return lines, [a, b, c]
    if kind == 2:  # sequence with comments and a chain
        a, b = f"test_{n}", f"report_{n}"
        lines = [f"{i}sequence {{", f"{i}  timeout: 1h"]
        lines += _small_task(a, u, f"{prev[-1]}.result.build_path" if prev else '"none"', i + "  ")
        lines += [f"{i}  /* the report needs the tests */"]
        lines += _small_task(b, u, f'"report-" + {a}.result.score', i + "  ")
        lines.append(f"{i}}}")
        if prev:
            lines.append(f"{i}{prev[-1]} -> {a} -> [{b}]")
        return lines, [a, b]
    if kind == 3:  # if / else if / else
        a, b, c = f"deploy_{n}", f"stage_{n}", f"notify_{n}"
        cond = f"{prev[-1]}.result.passed" if prev else "true"
        lines = [f"{i}if ({cond} && replicas > {k % 3}) {{"]
        lines += _small_task(a, u, '"prod"', i + "  ")
        lines += [f'{i}}} else if (env.STAGE == "staging" || retry_count < 3) {{']
        lines += _small_task(b, u, '"staging"', i + "  ")
        lines += [f"{i}}} else {{"]
        lines += _small_task(c, u, '"failed: ${error.message}"', i + "  ")
        lines.append(f"{i}}}")
        return lines, [a, b, c]
    if kind == 4:  # switch
        a, b, c = f"sw_react_{n}", f"sw_vue_{n}", f"sw_other_{n}"
        lines = [f"{i}switch (tech_stack.frontend) {{", f'{i}  case "react", "preact":']
        lines += _small_task(a, u, '"react"', i + "    ")
        lines += [f'{i}  case "vue":']
        lines += _small_task(b, u, '"vue"', i + "    ")
        lines += [f"{i}  default:"]
        lines += _small_task(c, u, "tech_stack.frontend", i + "    ")
        lines.append(f"{i}}}")
        return lines, [a, b, c]
    if kind == 5:  # foreach, parallel iterations
        a = f"each_{n}"
        lines = [f"{i}foreach feature, idx in features.filter(f => !f.startsWith(\"_\")) {{",
                 f"{i}  parallel: true", f"{i}  max_concurrency: {(k % 4) + 2}"]
        lines += _small_task(a, u, '"${feature}-${idx}"', i + "  ")
        lines.append(f"{i}}}")
        return lines, [a]
    if kind == 6:  # while
        a = f"poll_{n}"
        lines = [f"{i}while (retry_count < {k % 5 + 2} && !done) {{",
                 f"{i}  max_iterations: 10"]
        lines += _small_task(a, u, f"current_time - {k}", i + "  ")
        lines += [f"{i}  if (done) {{", f"{i}    break", f"{i}  }}", f"{i}}}"]
        return lines, [a]
    # kind 7: template use
    return [f"{i}// instantiate the release template",
            f'{i}use Release{u}(env: "prod-{k}", replicas: {k % 9 + 1}) as release_{n}'], []


def _workflow(u: int, budget: int) -> list[str]:
    lines = [
        f"// Workflow {u}",
        f"workflow Pipeline{u} {{",
        f'  version: "1.{u % 10}.{u % 7}"',
        f'  description: "Generated pipeline {u}: builds, checks and releases"',
        "  tags: [\"bench\", \"generated\"]",
        "  timeout: 2h",
        "",
        "  input {",
        "    project_name: string",
        f"    tech_stack: Stack{u}",
        "    features: array<string>",
        "    replicas: number = 2",
        "    debug: boolean = false",
        "    done: boolean = false",
        "  }",
        "",
        "  output {",
        f'    project_url: string = "https://example.com/${{project_name}}/{u}"',
        "    status: string = \"ok\"",
        "  }",
        "",
        f"  task fallback{u} {{",
        f"    agent: Checker{u}",
        '    input: { target: "fallback", level: 0 }',
        "  }",
    ]
    close = ["}", ""]
    prev: list[str] = []
    k = 0
    while k < 24:
        chunk, names = _chunk(k % 8, u, k, prev)
        if k and len(lines) + len(chunk) + len(close) > budget:
            break
        lines += chunk
        prev += names
        k += 1
    return lines + close


def generate(lines: int) -> str:
    """Valid TWDSL text of about ``lines`` lines (a little over or under, never by more than
    a small workflow), the same text for the same ``lines``."""
    out: list[str] = ["// Generated by bench/gen.py: parse-throughput input", ""]
    u = 0
    while not u or len(out) + 40 < lines:  # a unit is never under ~90 lines: stop close by
        out += _agents(u)
        out += _workflow(u, lines - len(out))
        u += 1
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
