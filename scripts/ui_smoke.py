"""Browser smoke test of the Dagster UI (run it as ./scripts/ui-smoke).

1. A throwaway work folder (data/ui/run/) with its own Dagster instance and JOBREC_* folders:
   the tiny synthetic market and one night materialised into it, as ./scripts/nightly does.
2. `dagster dev` over that instance on a free local port, in its own process group, stopped
   (the whole group) whatever happens.
3. Headless Chromium (Debian's, driven by Playwright; no browser is ever downloaded) opens the
   global asset lineage, the checks of recs/to_send, the reports/nightly asset (its metadata,
   plots and the report's Markdown) and the automation page; it saves a screenshot of each under
   data/ui/ and fails, naming the page, when a page shows an error (an error box, a Python error,
   an error toast, a GraphQL error, an HTTP error, an error in the browser's console, a script
   error), misses what it must show, or holds an image that did not load.

Needs the `ui` extra (`.venv/bin/pip install -e '.[ui]'`) and Debian's `chromium`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
UI_DIR = ROOT / "data" / "ui"
MODULE = "orchestration.definitions"
NIGHT_DONE = "night.ok"  # written in the work folder once its night succeeded (for --reuse)
VIEWPORT = {"width": 1600, "height": 1000}
GRAPH_VIEWPORT = {"width": 4000, "height": 2400}  # the lineage: at full zoom, node details show


class Failure(Exception):
    """A step of the smoke test failed before the pages could be checked."""


# ----------------------------------------------------------------------------------------------
# the work folder and its night


def work_env(work: Path) -> dict[str, str]:
    """The environment of every command: the work folder's instance and data, nothing of the
    caller's JOBREC_* settings (no webhook, the schedule stopped), Dagster's telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBREC_")}
    env.update(
        DAGSTER_HOME=str(work / "dagster_home"),
        JOBREC_RAW_DIR=str(work / "raw"),
        JOBREC_WAREHOUSE=str(work / "warehouse" / "jobrec.duckdb"),
        JOBREC_PUBLISHED=str(work / "published" / "jobrec.duckdb"),
        JOBREC_MODELS_DIR=str(work / "models"),
        JOBREC_REPORTS_DIR=str(work / "reports"),
        JOBREC_OUTBOX_DIR=str(work / "outbox"),
        JOBREC_ALERTS_DIR=str(work / "alerts"),
        GX_ANALYTICS_ENABLED="False",
        DAGSTER_DISABLE_TELEMETRY="1",
    )
    return env


def write_env_file(work: Path, env: dict[str, str]) -> None:
    """`source <work>/env.sh` points a shell at the work folder (to reopen its UI by hand)."""
    lines = [f"export {k}={shlex.quote(env[k])}" for k in sorted(env) if k.startswith("JOBREC_")]
    lines.append(f"export DAGSTER_HOME={shlex.quote(env['DAGSTER_HOME'])}")
    (work / "env.sh").write_text("\n".join(lines) + "\n")


def run_logged(cmd: list[str], env: dict[str, str], log: Path, what: str) -> None:
    """Run a command with its output appended to `log`; on failure, raise with the log's tail."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {shlex.join(cmd)}\n")
        out.flush()
        code = subprocess.call(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    if code:
        raise Failure(f"{what} failed (exit {code}); the end of {log}:\n{tail(log)}")
    print(f"  {what}: {time.monotonic() - started:.0f} s", flush=True)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def prepare_night(work: Path, env: dict[str, str], day: dt.date) -> None:
    """A fresh instance (orchestration/dagster.yaml, as scripts/setup.sh installs it), the tiny
    market ending the day before `day`, and the whole chain materialised for partition `day`."""
    if work.exists():
        shutil.rmtree(work)
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    shutil.copy(ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    write_env_file(work, env)
    log = work / "night.log"
    dagster = [sys.executable, "-m", "dagster"]
    run_logged([*dagster, "instance", "migrate"], env, log, "instance")
    end = (day - dt.timedelta(days=1)).isoformat()
    synth = ["--scale", "tiny", "--seed", "0", "--end-date", end, "--no-progress"]
    run_logged(
        [sys.executable, "-m", "jobrec.synth", "--out", env["JOBREC_RAW_DIR"], *synth],
        env,
        log,
        f"tiny market ending {end}",
    )
    info = '{"loggers": {"console": {"config": {"log_level": "INFO"}}}}'
    run_logged(
        [*dagster, "asset", "materialize", "-m", MODULE, "--select", "*"]
        + ["--partition", day.isoformat(), "--config-json", info],
        env,
        log,
        f"night {day}",
    )
    (work / NIGHT_DONE).write_text(day.isoformat() + "\n")


# ----------------------------------------------------------------------------------------------
# dagster dev


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dagster_dev(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    """`dagster dev` (webserver, daemon, code server) as the leader of a new session, its whole
    process group stopped on the way out: SIGTERM, then SIGKILL for whatever outlives 30 s."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            # the workspace file, as a user starts it (the code location is named "jobrec")
            [sys.executable, "-m", "dagster", "dev", "-w", str(ROOT / "workspace.yaml")]
            + ["-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # setsid: pgid == pid, away from the terminal's Ctrl-C
        )
        try:
            yield proc
        finally:
            stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 30.0) -> None:
    pgid = proc.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader, so that only live members keep the group
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            if sig == signal.SIGTERM:
                print(f"  dagster dev: still running {grace:.0f} s after SIGTERM, killing it")
            continue
        break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def graphql(base: str, query: str, timeout: float = 30.0) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/graphql",
        json.dumps({"query": query}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.load(response)
    if body.get("errors"):
        raise Failure(f"GraphQL errors: {body['errors']}")
    return body["data"]


WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def wait_until_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Until the webserver answers and the code location is loaded (or fails to load)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise Failure(f"dagster dev exited ({proc.returncode}); the end of {log}:\n{tail(log)}")
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, Failure):
            entries = graphql(base, WORKSPACE_QUERY, timeout=5)["workspaceOrError"][
                "locationEntries"
            ]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                for e in entries:
                    if e["locationOrLoadError"]["__typename"] != "RepositoryLocation":
                        message = e["locationOrLoadError"].get("message", "")
                        raise Failure(f"code location {e['name']} failed to load: {message}")
                return
        if time.monotonic() > deadline:
            raise Failure(
                f"dagster dev not ready after {timeout:.0f} s; the end of {log}:\n{tail(log)}"
            )
        time.sleep(1)


@dataclasses.dataclass
class Expected:
    """What the pages must show, read from the definitions through GraphQL."""

    groups: list[str]
    checks: dict[str, list[str]]  # asset key ("recs/to_send") -> its checks
    automations: list[str]  # schedules and sensors


def expected(base: str, checked_assets: list[str]) -> Expected:
    nodes = graphql(base, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
    checks = {}
    for key in checked_assets:
        path = json.dumps(key.split("/"))
        node = graphql(
            base,
            f"""{{ assetNodeOrError(assetKey: {{path: {path}}}) {{ __typename ... on AssetNode {{
              assetChecksOrError {{ ... on AssetChecks {{ checks {{ name }} }} }} }} }} }}""",
        )["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise Failure(f"asset {key} is not in the definitions ({node['__typename']})")
        checks[key] = [c["name"] for c in node["assetChecksOrError"].get("checks", [])]
    repos = graphql(
        base,
        """{ repositoriesOrError { ... on RepositoryConnection { nodes {
          schedules { name } sensors { name } } } } }""",
    )["repositoriesOrError"]["nodes"]
    automations = [a["name"] for r in repos for a in r["schedules"] + r["sensors"]]
    return Expected(sorted({n["groupName"] for n in nodes}), checks, sorted(automations))


# ----------------------------------------------------------------------------------------------
# the pages

# Visible signs of an error in Dagster's UI (ui-core / ui-components 1.13): a non-ideal state
# with the error icon ("Query Error", "Python Error", "Code location error", ...), a Python error
# panel, an error toast ("Unexpected GraphQL error"), an error boundary ("Sorry, <region> can't
# be displayed."), and the phrases of generic error pages.
SCAN_ERRORS_JS = r"""() => {
  const found = [];
  const text = (e) => (e.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 300);
  const visible = (e) => e.getClientRects().length > 0;
  const add = (what, e) => { if (visible(e)) found.push(`${what}: ${text(e)}`); };
  for (const e of document.querySelectorAll('.dagster-non-ideal-state'))
    if (e.querySelector('[role=img][aria-label=error]')) add('error box', e);
  for (const e of document.querySelectorAll('[class*="PythonErrorInfo_wrapper"]'))
    add('Python error', e);
  for (const e of document.querySelectorAll('[class*="Toaster_toastInner"]'))
    if (e.querySelector('[role=img][aria-label=error]')) add('error toast', e);
  for (const e of document.querySelectorAll('[class*="ErrorBoundary_trace"]'))
    add('error boundary', e.parentElement || e);
  const body = document.body ? document.body.innerText : '';
  for (const phrase of [/Something went wrong/i, /can[’']t be displayed/i,
                        /Unexpected GraphQL error/i, /GraphQL Error/, /Page not found/i])
    if (phrase.test(body) && !found.some((f) => phrase.test(f)))
      found.push(`page text: ${body.match(phrase)[0]}`);
  return found;
}"""

IMAGES_JS = """() => [...document.images].map((i) => ({
  src: i.getAttribute('src') || '', url: i.currentSrc || i.src, alt: i.alt,
  complete: i.complete, width: i.naturalWidth }))"""

LOADING_JS = """() => [...document.querySelectorAll('[role=progressbar][aria-label=loading]')]
  .filter((e) => e.getClientRects().length > 0 && !/stopped/.test(e.className)).length"""


def short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def error_typenames(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, typename: message) of every PythonError or *Error object in a GraphQL result."""
    if isinstance(value, dict):
        typename = value.get("__typename", "")
        if typename == "PythonError" or typename.endswith("Error"):
            yield path or "data", f"{typename}: {value.get('message', '')}"
        for k, v in value.items():
            yield from error_typenames(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from error_typenames(v, f"{path}[{i}]")


@dataclasses.dataclass
class PageReport:
    name: str
    url: str
    shots: list[Path] = dataclasses.field(default_factory=list)
    images: int = 0
    broken: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.broken and not self.errors

    def line(self) -> str:
        shots = ", ".join(str(s.relative_to(ROOT)) for s in self.shots) or "no screenshot"
        verdict = "ok  " if self.ok else "FAIL"
        path = "/" + self.url.split("/", 3)[-1] if self.url.count("/") >= 3 else self.url
        return (
            f"{verdict} {self.name:<20} {short(path, 40):<40} {self.seconds:5.1f} s  "
            f"images {self.images - len(self.broken)}/{self.images} loaded  "
            f"errors {len(self.errors)}  -> {shots}"
        )


class Watcher:
    """Everything a page reports while it is open: console errors, uncaught script errors,
    failed requests, HTTP errors, GraphQL errors; and what each URL was served as."""

    def __init__(self, page: Any, report: PageReport):
        self.page, self.report = page, report
        self.served: dict[str, str] = {}
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.error(f"script error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def error(self, text: str) -> None:
        if text not in self.report.errors:
            self.report.errors.append(text)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.error(f"console error: {short(message.text, 300)}")

    def _failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" not in failure:  # aborted: the page moved on, not an error
            self.error(f"request failed: {request.method} {short(request.url)} ({failure})")

    def _response(self, response: Any) -> None:
        kind = (response.headers.get("content-type") or "?").split(";")[0]
        self.served[response.url] = f"{kind}, HTTP {response.status}"
        operation = "?"
        if response.status >= 400:
            self.error(f"HTTP {response.status}: {response.request.method} {short(response.url)}")
        if not response.url.endswith("/graphql") or response.request.method != "POST":
            return
        with contextlib.suppress(Exception):  # a body gone with the page, not JSON: no verdict
            operation = (response.request.post_data_json or {}).get("operationName") or "?"
            body = response.json()
            for e in body.get("errors") or []:
                self.error(f"GraphQL error in {operation}: {short(str(e.get('message')), 300)}")
            for where, what in error_typenames(body.get("data")):
                self.error(f"GraphQL {operation} {where}: {short(what, 300)}")

    def settle(self, timeout: float = 30.0) -> None:
        """Until the network is quiet, no spinner is left and the images have loaded."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        deadline = time.monotonic() + timeout
        with contextlib.suppress(PlaywrightTimeout):
            self.page.wait_for_load_state("networkidle", timeout=timeout * 1000)
        while self.page.evaluate(LOADING_JS) and time.monotonic() < deadline:
            self.page.wait_for_timeout(250)
        self.page.wait_for_timeout(1500)  # layouts, the graph's zoom to fit, late queries
        with contextlib.suppress(PlaywrightTimeout):
            self.page.wait_for_load_state("networkidle", timeout=5000)
        self.wait_for_images(deadline)
        if spinners := self.page.evaluate(LOADING_JS):
            self.error(f"still loading after {timeout:.0f} s ({spinners} spinner(s))")

    def wait_for_images(self, deadline: float) -> None:
        while time.monotonic() < deadline and not all(
            i["complete"] for i in self.page.evaluate(IMAGES_JS)
        ):
            self.page.wait_for_timeout(250)

    def inspect(self, shot: Path, full_height_of: str | None = None) -> None:
        """Scan the settled page for error boxes and images that did not load, and screenshot
        it: the whole scrolling height of `full_height_of` (a selector) when given, the window
        made that tall first so that every image in it is in view and loads."""
        size = self.page.viewport_size
        if full_height_of:
            height = self.page.evaluate(
                "(s) => Math.max(...[...document.querySelectorAll(s)].map((e) => e.scrollHeight))",
                full_height_of,
            )
            self.page.set_viewport_size({"width": size["width"], "height": max(height, 400)})
            self.page.wait_for_timeout(500)
            self.wait_for_images(time.monotonic() + 10)
        for found in self.page.evaluate(SCAN_ERRORS_JS):
            self.error(found)
        images = self.page.evaluate(IMAGES_JS)
        self.report.images += len(images)
        for i in images:
            if i["complete"] and i["width"] > 0:
                continue
            state = "still loading" if not i["complete"] else "not an image"
            served = self.served.get(i["url"], "no response")
            src = short(i["src"], 60)
            self.report.broken.append(
                f'<img alt="{i["alt"]}" src="{src}"> -> {short(i["url"])}: {state} '
                f"(served {served})"
            )
        shot.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(shot), full_page=True)
        self.report.shots.append(shot)
        if full_height_of:
            self.page.set_viewport_size(size)


def missing_text(page: Any, texts: list[str], timeout: float = 10.0) -> list[str]:
    """The texts of `texts` not visible on the page within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    missing = list(texts)
    while missing and time.monotonic() < deadline:
        missing = [t for t in missing if not page.get_by_text(t).filter(visible=True).count()]
        if missing:
            page.wait_for_timeout(250)
    return missing


# A page check: (page, watcher, expected, base URL) -> None; it navigates, acts, and calls
# watcher.inspect once per screenshot; an unmet expectation is appended to the report's errors.
PageCheck = Callable[[Any, Watcher, Expected, str], None]


def lineage(page: Any, w: Watcher, exp: Expected, base: str) -> None:
    """The global asset lineage as it opens (groups collapsed)."""
    page.goto(f"{base}/asset-groups")
    w.settle()
    for text in missing_text(page, ["Global asset lineage", *exp.groups]):
        w.error(f"missing on the page: {text!r}")
    w.inspect(UI_DIR / "lineage.png")


def lineage_expanded(page: Any, w: Watcher, exp: Expected, base: str) -> None:
    """The global asset lineage with every group expanded: every asset's node."""
    expanded = ",".join(f"global@global:{g}" for g in exp.groups)
    page.goto(f"{base}/asset-groups?expanded={expanded}")
    w.settle()
    w.inspect(UI_DIR / "lineage-expanded.png")


def asset_checks(key: str) -> PageCheck:
    def check(page: Any, w: Watcher, exp: Expected, base: str) -> None:
        page.goto(f"{base}/assets/{key}?view=checks")
        w.settle()
        names = exp.checks[key]
        texts = [f"Checks ({len(names)})", *names[:1]]  # the list's first is shown, unabridged
        for text in missing_text(page, texts):
            w.error(f"missing on the page: {text!r}")
        w.inspect(UI_DIR / f"{key.replace('/', '-')}-checks.png")

    check.__doc__ = f"The Checks tab of {key}."
    return check


def report_asset(page: Any, w: Watcher, exp: Expected, base: str) -> None:
    """reports/nightly: its overview (the latest materialisation's metadata), the metadata's
    plots, and the report's Markdown with its images."""
    page.goto(f"{base}/assets/reports/nightly?view=overview")
    w.settle()
    for text in missing_text(page, ["Latest materialization", "[Show Markdown]"]):
        w.error(f"missing on the page: {text!r}")
    w.inspect(UI_DIR / "reports-nightly.png")
    plots = page.get_by_role("button", name="Plots")
    if plots.count():
        plots.first.click()
        w.settle()
        w.inspect(UI_DIR / "reports-nightly-plots.png")
        page.get_by_role("button", name="Table").first.click()
        w.settle()
    else:
        w.error("missing on the page: the metadata's 'Plots' toggle")
    row = page.locator("tr", has=page.get_by_text("report", exact=True))
    show = row.get_by_text("[Show Markdown]")
    if not show.count():
        w.error("missing on the page: the 'report' metadata row with [Show Markdown]")
        return
    show.first.click()
    dialog = page.locator(".bp5-dialog")
    dialog.first.wait_for(state="visible", timeout=10_000)
    w.settle()
    for text in missing_text(page, ["Recall@k"]):
        w.error(f"missing in the report's Markdown: {text!r}")
    w.inspect(
        UI_DIR / "reports-nightly-markdown.png", full_height_of=".bp5-overlay-scroll-container"
    )
    page.keyboard.press("Escape")


def automation(page: Any, w: Watcher, exp: Expected, base: str) -> None:
    """The automation page: the schedule and the sensors."""
    page.goto(f"{base}/automation")
    w.settle()
    for text in missing_text(page, exp.automations):
        w.error(f"missing on the page: {text!r}")
    w.inspect(UI_DIR / "automation.png")


PAGES: list[tuple[str, PageCheck, dict[str, int]]] = [
    ("lineage", lineage, GRAPH_VIEWPORT),
    ("lineage-expanded", lineage_expanded, GRAPH_VIEWPORT),
    ("recs/to_send checks", asset_checks("recs/to_send"), VIEWPORT),
    ("reports/nightly", report_asset, VIEWPORT),
    ("automation", automation, VIEWPORT),
]
CHECKED_ASSETS = ["recs/to_send"]


def browse(base: str, exp: Expected) -> list[PageReport]:
    """Open every page in headless Chromium (the system's), one fresh tab each."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    reports = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        try:
            for name, check, viewport in PAGES:
                context = browser.new_context(viewport=viewport)
                # the "Join the Dagster community" dialog, shown once per browser, stays closed
                context.add_init_script("localStorage.setItem('communityNux', JSON.stringify('1'))")
                page = context.new_page()
                page.set_default_timeout(30_000)
                report = PageReport(name, "")
                watcher = Watcher(page, report)
                started = time.monotonic()
                try:
                    check(page, watcher, exp, base)
                except PlaywrightError as e:  # timeouts included
                    first = str(e).splitlines()[0] if str(e) else type(e).__name__
                    watcher.error(f"browser: {first}")
                    with contextlib.suppress(PlaywrightError):
                        shot = UI_DIR / f"{name.replace('/', '-').replace(' ', '-')}-failed.png"
                        page.screenshot(path=str(shot), full_page=True)
                        report.shots.append(shot)
                report.url = page.url
                report.seconds = time.monotonic() - started
                context.close()
                reports.append(report)
                print(report.line(), flush=True)
                for line in report.errors + report.broken:
                    print(f"       {line}", flush=True)
        finally:
            browser.close()
    return reports


# ----------------------------------------------------------------------------------------------


def preflight() -> None:
    """Chromium and Playwright before the minutes of the night."""
    problems = []
    if not shutil.which("chromium"):
        problems.append("no `chromium` on the PATH: apt-get install -y chromium (Debian)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("no Playwright in the venv: .venv/bin/pip install -e '.[ui]'")
    if problems:
        raise Failure("; ".join(problems))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./scripts/ui-smoke",
        description=(
            "Browser smoke test of the Dagster UI: one tiny night in a throwaway instance "
            "(data/ui/run/), `dagster dev` over it, headless Chromium on the asset lineage, the "
            "checks of recs/to_send, reports/nightly and the automation page; screenshots in "
            "data/ui/*.png. Exits 1 when a page shows an error or an image that did not load."
        ),
    )
    parser.add_argument(
        "--day",
        type=dt.date.fromisoformat,
        default=None,
        help="the partition to materialise (default: today, UTC; the market ends the day before)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder data/ui/run/ (removed after a passing run otherwise); "
        "reopen its UI with: source data/ui/run/env.sh && dagster dev",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the night of a kept work folder instead of making a new one",
    )
    parser.add_argument("--port", type=int, default=0, help="the UI's port (default: a free one)")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=240.0,
        help="seconds dagster dev may take to answer with the code location loaded",
    )
    return parser.parse_args(argv)


def raise_on_signal(signum: int, _frame: Any) -> None:
    print(f"ui-smoke: {signal.Signals(signum).name}, stopping", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: dagster dev is stopped


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM and SIGHUP end the script as an exception does; SIGINT gets Python's handler even
    # when started ignored (a background job): `dagster dev` copies its SIGINT disposition to
    # SIGTERM, so an inherited "ignore" would make it deaf to the SIGTERM that stops it.
    signal.signal(signal.SIGTERM, raise_on_signal)
    signal.signal(signal.SIGHUP, raise_on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    work = UI_DIR / "run"
    env = work_env(work)
    started = time.monotonic()
    passed = False
    try:
        preflight()
        for old in UI_DIR.glob("*.png"):
            old.unlink()
        done = work / NIGHT_DONE
        if args.reuse and done.exists():
            day = done.read_text().strip()
            print(f"reusing the night {day} in {work.relative_to(ROOT)}", flush=True)
        else:
            day = args.day or dt.datetime.now(dt.UTC).date()
            print(f"one tiny night ({day}) in {work.relative_to(ROOT)}", flush=True)
            prepare_night(work, env, day)
        port = args.port or free_port()
        base = f"http://127.0.0.1:{port}"
        log = work / "dagster-dev.log"
        with dagster_dev(env, port, log) as proc:
            t = time.monotonic()
            wait_until_ready(base, proc, log, args.ready_timeout)
            print(f"  dagster dev on {base}: ready in {time.monotonic() - t:.0f} s", flush=True)
            exp = expected(base, CHECKED_ASSETS)
            reports = browse(base, exp)
        failed = [r.name for r in reports if not r.ok]
        elapsed = time.monotonic() - started
        if failed:
            print(f"ui-smoke FAILED in {elapsed:.0f} s: {', '.join(failed)}", file=sys.stderr)
            print(f"(instance, data and logs kept in {work})", file=sys.stderr)
            return 1
        passed = True
        print(f"ui-smoke passed in {elapsed:.0f} s: {len(reports)} pages", flush=True)
        return 0
    except KeyboardInterrupt:
        print("ui-smoke: interrupted (dagster dev stopped)", file=sys.stderr)
        return 130
    except Failure as e:
        print(f"ui-smoke FAILED: {e}", file=sys.stderr)
        if work.exists():
            print(f"(instance, data and logs kept in {work})", file=sys.stderr)
        return 1
    finally:
        if passed and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
