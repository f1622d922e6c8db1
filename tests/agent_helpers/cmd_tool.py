"""A command agent for tests, run as a real subprocess: ``cmd_tool.py MODE ARGS...``.

- ``report ARGS...``: prints JSON of its argv, stdin, TWDSL_* environment and cwd;
- ``exit CODE LINES...``: writes LINES to stderr and exits with CODE;
- ``say TEXT``: prints TEXT (not JSON);
- ``noise KB``: writes KB kilobytes of numbered lines to stderr, then exits 1;
- ``tree PIDFILE [ignore-term]``: starts a child that sleeps (in the same process group),
  writes "leader child" pids to PIDFILE once the child runs, and sleeps; with
  ``ignore-term`` both ignore SIGTERM (so only SIGKILL stops them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def main() -> None:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "report":
        print(json.dumps({"argv": args, "stdin": json.loads(sys.stdin.read() or "null"),
                          "env": {k: v for k, v in os.environ.items()
                                  if k.startswith(("TWDSL_", "AGENT_"))},
                          "cwd": os.getcwd()}))
    elif mode == "exit":
        for line in args[1:]:
            print(line, file=sys.stderr)
        sys.exit(int(args[0]))
    elif mode == "say":
        sys.stdout.write(args[0])
    elif mode == "noise":
        for i in range(int(args[0]) * 1024 // 16):
            sys.stderr.write(f"line {i:010d}\n")
        sys.exit(1)
    elif mode == "tree":
        ignore = args[1:] == ["ignore-term"]
        code = "import signal, time\n"
        if ignore:
            code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        code += "print('ready', flush=True)\ntime.sleep(60)\n"
        if ignore:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        tmp = args[0] + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        os.replace(tmp, args[0])
        time.sleep(60)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
