"""Weight and time to first render of `twdsl server`'s web UI, in Debian's headless Chromium
(selenium + chromedriver, as tests/test_server_browser.py).

* weight: the bytes of every file the pages load (HTML, CSS, JavaScript, icon), plain and
  as sent to a browser (gzip), and of the API answers a run page reads;
* the sign-in page cold (no cache): first contentful paint, and DOMContentLoaded;
* the runs list after signing in (50 runs recorded) and a run's page (graph, timeline): from
  navigation to the content drawn (its table or its coloured graph in the DOM), median of
  ``--repeat`` loads.

    .venv/bin/python bench/server_ui.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

WORKFLOW = '''workflow Pipeline {
  version: "1.0.0"
  input { n: number }
  task fetch { agent: "echo" input: { n: n } }
  parallel {
    task clean { agent: "echo" input: { x: fetch.result } }
    task index { agent: "echo" input: { x: fetch.result } }
    task thumbs { agent: "echo" input: { x: fetch.result } }
  }
  foreach part in [1, 2, 3] {
    task convert { agent: "echo" input: { part: part } }
  }
  task publish { agent: "echo" input: { a: clean.result, b: index.result } depends: [thumbs] }
}
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        state = str(root / "state.db")
        token = subprocess.run([sys.executable, "-m", "twdsl.cli", "token", "create", "--role",
                                "admin", "--state", state], capture_output=True, text=True,
                               check=True, cwd=root).stdout.strip()
        proc = subprocess.Popen([sys.executable, "-m", "twdsl.cli", "server", "--port", "0",
                                 "--state", state], cwd=root, stderr=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stderr is not None
        m = re.search(r"http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
        assert m is not None
        url = f"http://127.0.0.1:{m.group(1)}"
        headers = {"Authorization": f"Bearer {token}"}
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1360,900",
                  "--disable-dev-shm-usage"):
            options.add_argument(a)
        driver = webdriver.Chrome(service=DriverService("/usr/bin/chromedriver"),
                                  options=options)
        try:
            for _ in range(200):
                try:
                    httpx.get(url + "/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            httpx.post(url + "/api/workflows", headers=headers,
                       json={"source": WORKFLOW, "filename": "pipeline.twdsl"}).raise_for_status()
            ids = [httpx.post(url + "/api/workflows/Pipeline/runs", headers=headers,
                              json={"inputs": {"n": i}}).json()["id"] for i in range(50)]
            time.sleep(2)
            weight, gzipped = {}, {}
            for path in ("/", "/static/app.css", "/static/app.js", "/static/favicon.svg"):
                weight[path] = len(httpx.get(url + path,
                                             headers={"Accept-Encoding": "identity"}).content)
                with httpx.stream("GET", url + path,
                                  headers={"Accept-Encoding": "gzip"}) as r:
                    gzipped[path] = sum(len(c) for c in r.iter_raw())
            api = {p: len(httpx.get(url + p, headers=headers).content) for p in (
                "/api/session", f"/api/runs/{ids[0]}", f"/api/runs/{ids[0]}/graph.svg",
                "/api/runs?limit=100", "/api/workflows")}
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
            login = []
            form_ms = []
            for _ in range(args.repeat):
                driver.delete_all_cookies()
                driver.get("about:blank")
                t0 = time.perf_counter()
                driver.get(url + "/")
                while not driver.execute_script("return !!document.getElementById('token')"):
                    time.sleep(0.002)
                form_ms.append((time.perf_counter() - t0) * 1000)
                t = driver.execute_script(
                    "const p = performance.getEntriesByName('first-contentful-paint')[0];"
                    "const n = performance.getEntriesByType('navigation')[0];"
                    "return [p ? p.startTime : null, n.domContentLoadedEventEnd];")
                login.append(t)
            driver.find_element(By.ID, "token").send_keys(token)
            driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            time.sleep(1)

            def timed(hash_: str, ready: str) -> float:
                driver.get("about:blank")
                t0 = time.perf_counter()
                driver.get(url + "/" + hash_)
                while not driver.execute_script(ready):
                    time.sleep(0.002)
                return (time.perf_counter() - t0) * 1000

            runs_ms = [timed("#/runs", "return document.querySelectorAll("
                             "'#runs tbody tr[data-run]').length >= 50")
                       for _ in range(args.repeat)]
            run_ms = [timed(f"#/runs/{ids[0]}", "return document.querySelectorAll("
                            "'#graph g.node.st-completed').length >= 6")
                      for _ in range(args.repeat)]
        finally:
            driver.quit()
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    out = {
        "static_bytes": weight, "static_total_bytes": sum(weight.values()),
        "static_gzip_bytes": gzipped, "static_total_gzip_bytes": sum(gzipped.values()),
        "api_bytes_run_page": api,
        "login_first_contentful_paint_ms": round(statistics.median(
            x[0] for x in login if x[0] is not None), 1),
        "login_dom_content_loaded_ms": round(statistics.median(x[1] for x in login), 1),
        "login_form_shown_ms": round(statistics.median(form_ms), 1),
        "runs_list_drawn_ms": round(statistics.median(runs_ms), 1),
        "run_page_graph_coloured_ms": round(statistics.median(run_ms), 1),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
