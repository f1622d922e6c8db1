"""The web UI of `twdsl server` in a real browser: Debian's headless Chromium driven by
Selenium (chromedriver).  Logs in, starts a run and watches it complete on the graph,
cancels one, reads a failing run's traceback, checks what a viewer may do; screenshots go to
.ci-artifacts/server-ui/ (CI keeps them; docs/img/ has a couple).

Needs /usr/bin/chromium and /usr/bin/chromedriver: `.ci/setup-browser` installs them (run as
root it is called from here too).  Missing in CI is a failure; elsewhere a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Server, deploy, make_project, token

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / ".ci-artifacts" / "server-ui"
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _browser_ready() -> str | None:
    """None when Chromium and its driver are there (installing them if we may), else why
    not."""
    if Path(CHROMIUM).exists() and Path(DRIVER).exists():
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        r = subprocess.run([str(ROOT / ".ci" / "setup-browser")], capture_output=True,
                           text=True)
        if r.returncode == 0 and Path(DRIVER).exists():
            return None
        return f".ci/setup-browser failed: {r.stderr[-500:]}"
    return (f"{CHROMIUM} and {DRIVER} are missing: run .ci/setup-browser as root "
            "(apt-get install chromium chromium-driver fonts-dejavu-core)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _browser_ready()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"no browser for the UI tests: {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1360,900", "--lang=en-US", "--force-color-profile=srgb",
                "--remote-debugging-address=127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    project = make_project(tmp_path_factory.mktemp("ui") / "project")
    tokens = {role: token(project, role, name) for role, name in
              (("admin", "ada"), ("operator", "olga"), ("viewer", "victor"))}
    nightly = (project / "flow.twdsl").read_text().replace(
        'version: "1.0.0"', 'version: "1.2.0"\n  schedule: "TZ=Europe/Paris 0 3 * * *"'
    ).replace("workflow Flow", "workflow NightlyReport")
    (project / "nightly.twdsl").write_text(nightly)
    completed, ended = _history(project / ".twdsl" / "state.db")
    server = Server(project, "--max-runs", "3")
    with server.client(tokens["admin"]) as c:
        deploy(c, project, "flow.twdsl")
        deploy(c, project, "slow.twdsl")
        deploy(c, project, "nightly.twdsl", inputs={"n": 1})
        # some history for the charts
        for i in range(6):
            c.post("/api/workflows/NightlyReport/runs",
                   json={"inputs": {"n": i, "fail": i == 4}})
    rate = f"{round(100 * (completed + 5) / (ended + 6))}%"  # and the 6 runs above
    try:
        yield {"server": server, "tokens": tokens, "project": project, "rate": rate}
    finally:
        server.stop()


def _history(state: Path) -> tuple[int, int]:
    """Two weeks of earlier runs of NightlyReport, recorded in the state store as a server
    would have (the charts need days); how many completed and ended."""
    import random

    from twdsl.runtime.store import SQLiteStore, new_run_id

    rng = random.Random(7)
    now = time.time()
    completed = ended = 0
    with SQLiteStore(state) as store:
        for day in range(13, 0, -1):
            for k in range(rng.randint(3, 6)):
                created = now - day * 86400 + k * 900
                ok = rng.random() > (0.45 if day in (9, 8) else 0.06)
                seconds = rng.uniform(40, 70) * (1.8 if day in (5, 4) else 1) + (
                    rng.uniform(30, 60) if k == 0 else 0)
                rid = new_run_id(created)
                store.create_run(rid, "NightlyReport", version="1.2.0", inputs={"n": k},
                                 created_at=created, status="running")
                store.update_run(rid, status="completed" if ok else "failed",
                                 started_at=created + 1, finished_at=created + 1 + seconds,
                                 error=None if ok else {"kind": "agent", "message":
                                                        "TimeoutError: the report store"})
                completed += ok
                ended += 1
    return completed, ended


def wait_for(driver: Any, what: Callable[[], Any], timeout: float = 20,
             message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = what()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - the page is still changing
            last = e
        time.sleep(0.05)
    shot(driver, "timeout")
    raise AssertionError(f"timed out waiting: {message} ({last!r})")


def shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def login(driver: Any, site: dict[str, Any], role: str) -> None:
    driver.delete_all_cookies()
    driver.get("about:blank")  # a fresh page: a new hash alone would keep the old one
    driver.get(site["server"].url + "/#/runs")
    field = wait_for(driver, lambda: css(driver, "#token"), message="the login form")
    field.clear()
    field.send_keys(site["tokens"][role])
    css(driver, "form button[type=submit]").click()
    wait_for(driver, lambda: css(driver, "#who").text.endswith(role), message="logged in")


def node_status(driver: Any, node: str) -> str:
    """Read in one script: the page redraws as events come (an element found may be gone by
    the time it is read)."""
    return str(driver.execute_script(
        "const g = document.querySelector(`#graph g.node[data-node=\"${arguments[0]}\"]`);"
        "return g ? g.dataset.status : null;", node))


def texts(driver: Any, selector: str) -> list[str]:
    return list(driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim())",
        selector))


def start_run(driver: Any, workflow: str, inputs: str) -> str:
    """Start a run from the runs page's dialog; the new run's id (its page is shown)."""
    driver.get(driver.current_url.split("#")[0] + "#/runs")
    wait_for(driver, lambda: css(driver, "#new-run"), message="the start button").click()
    select = wait_for(driver, lambda: css(driver, "#run-workflow"))
    from selenium.webdriver.support.ui import Select

    Select(select).select_by_value(workflow)
    area = css(driver, "#run-inputs")
    wait_for(driver, lambda: area.get_attribute("data-for") == workflow,
             message="the inputs of the chosen workflow")
    area.clear()
    area.send_keys(inputs)
    css(driver, "#run-submit").click()
    wait_for(driver, lambda: "#/runs/" in driver.current_url, message="the run page")
    wait_for(driver, lambda: css(driver, "#run-status .pill"), message="the run's status")
    return str(driver.current_url.rsplit("/", 1)[1])


def test_login_is_refused_with_a_wrong_token(browser: Any, site: dict[str, Any]) -> None:
    browser.delete_all_cookies()
    browser.get("about:blank")
    browser.get(site["server"].url + "/")
    field = wait_for(browser, lambda: css(browser, "#token"), message="the login form")
    assert css(browser, "#top").is_displayed() is False
    field.send_keys("twdsl_abcdefgh_" + "x" * 43)
    css(browser, "form button[type=submit]").click()
    error = wait_for(browser, lambda: css(browser, "#login-error").text, message="an error")
    assert error == "the token is not valid (unknown, wrong or revoked)"
    shot(browser, "login")


def test_start_a_run_and_watch_it_complete_on_the_graph(browser: Any,
                                                        site: dict[str, Any]) -> None:
    login(browser, site, "operator")
    shot(browser, "runs")
    run_id = start_run(browser, "Slow", '{"seconds": 4}')
    wait_for(browser, lambda: node_status(browser, "wait") == "running",
             message="the wait task running on the graph")
    assert node_status(browser, "first") == "completed"
    assert node_status(browser, "after") == "waiting"
    assert texts(browser, "#run-status .pill") == ["running"]
    assert texts(browser, "#run-actions button") == ["Cancel", "Pause"]
    shot(browser, "run-running")
    wait_for(browser, lambda: browser.find_element("tag name", "body").get_attribute(
        "data-run-status") == "completed", timeout=20, message="the run completed")
    wait_for(browser, lambda: node_status(browser, "after") == "completed")
    assert [node_status(browser, n) for n in ("first", "wait", "after")] == ["completed"] * 3
    fill = css(browser, '#graph g.node[data-node="wait"] rect').value_of_css_property("fill")
    assert fill != css(browser, '#graph g.node[data-node="first"] text').value_of_css_property(
        "fill")
    bars = all_css(browser, "#timeline .bar")
    assert len(bars) == 3
    assert texts(browser, "#run-actions button") == ["Retry"]
    assert run_id in browser.current_url
    shot(browser, "run-completed")


def test_cancel_a_run_from_its_page(browser: Any, site: dict[str, Any]) -> None:
    login(browser, site, "operator")
    start_run(browser, "Slow", '{"seconds": 60}')
    wait_for(browser, lambda: node_status(browser, "wait") == "running",
             message="the wait task running")
    cancel = wait_for(browser, lambda: css(browser, '#run-actions [data-action="cancel"]'))
    cancel.click()
    wait_for(browser, lambda: css(browser, "#run-status .pill").text == "cancelled",
             message="the run cancelled")
    wait_for(browser, lambda: node_status(browser, "wait") == "cancelled")
    assert node_status(browser, "after") == "waiting"
    assert texts(browser, "#run-actions button") == ["Resume", "Retry"]
    shot(browser, "run-cancelled")


def test_a_failing_run_shows_its_traceback(browser: Any, site: dict[str, Any]) -> None:
    login(browser, site, "operator")
    start_run(browser, "Flow", '{"n": 1, "fail": true}')
    wait_for(browser, lambda: css(browser, "#run-status .pill").text == "failed",
             message="the run failed")
    wait_for(browser, lambda: node_status(browser, "right") == "failed")
    assert node_status(browser, "left") == "completed"
    tb = wait_for(browser, lambda: css(browser, "#run-error pre.traceback").text)
    assert tb.startswith("Traceback (most recent call last):")
    assert tb.rstrip().endswith("ZeroDivisionError: the right side cannot divide by zero")
    right = css(browser, 'details.task[data-key="right"]')
    assert right.get_attribute("open") is not None  # a failed task opens by itself
    assert "ZeroDivisionError" in right.find_element("css selector", "pre.traceback").text
    assert texts(browser, "#run-actions button") == [
        "Retry", "Retry failed only"]
    shot(browser, "run-failed")
    # retry failed only: a new run, linked
    browser.execute_script("window.scrollTo(0, 0)")
    css(browser, '#run-actions [data-action="retry-failed-only"]').click()
    wait_for(browser, lambda: "Retry of" in css(browser, ".kv").text, message="the retry")


def test_a_viewer_sees_no_buttons(browser: Any, site: dict[str, Any]) -> None:
    login(browser, site, "viewer")
    wait_for(browser, lambda: all_css(browser, "#runs tbody tr[data-run]"),
             message="the runs list")
    assert all_css(browser, "#new-run") == []
    assert css(browser, '[data-nav="settings"]').is_displayed() is False
    all_css(browser, "#runs tbody tr[data-run]")[0].click()
    wait_for(browser, lambda: css(browser, "#run-status .pill"))
    assert all_css(browser, "#run-actions button") == []


def test_workflow_page_schedules_and_a_phone(browser: Any, site: dict[str, Any]) -> None:
    login(browser, site, "admin")
    browser.get(site["server"].url + "/#/workflows/NightlyReport")
    wait_for(browser, lambda: css(browser, "#success-rate").text == site["rate"],
             message="the statistics")
    assert len(all_css(browser, ".chart svg")) == 2
    assert "0 3 * * *" in css(browser, "#schedule").text
    assert "Europe/Paris" in css(browser, "#schedule").text
    assert [r.text.split()[0] for r in all_css(browser, "#versions tbody tr")] == ["v1"]
    shot(browser, "workflow")
    browser.get(site["server"].url + "/#/schedules")
    row = wait_for(browser, lambda: css(browser, '#schedules tr[data-workflow="NightlyReport"]'))
    row.find_element("css selector", "button").click()
    wait_for(browser, lambda: "paused" in css(
        browser, '#schedules tr[data-workflow="NightlyReport"]').text, message="paused")
    shot(browser, "schedules")
    browser.get(site["server"].url + "/#/settings")
    wait_for(browser, lambda: all_css(browser, "#tokens tbody tr"))
    shot(browser, "settings")
    browser.set_window_size(400, 860)
    try:
        browser.get(site["server"].url + "/#/runs")
        wait_for(browser, lambda: all_css(browser, "#runs tbody tr[data-run]"))
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400, f"the page is {width}px wide on a 400px screen"
        shot(browser, "phone-runs")
    finally:
        browser.set_window_size(1360, 900)
