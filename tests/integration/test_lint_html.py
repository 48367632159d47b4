"""`evalrefine lint --format html`: the page opened in a real headless Chromium, driven over the Chrome
DevTools protocol (a pipe, so no extra dependency): no console error, no network request, one row per
prompt with the report's numbers, sorting by a real mouse click, heatmaps equal to `explain`'s, the
histogram holding the reference's deployment prompts, and hostile repository text staying text.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from evalrefine.core.attribution.base import Attribution, DeletionCurve, SpanEffect
from evalrefine.core.attribution.spans import Span
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.lint.run import LintReport, LintResult, Threshold
from evalrefine.core.lint.sources import LintPrompt, Location, ParseProblem
from evalrefine.render.html_report import heatmap_targets, html_report
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "evalrepo"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
HOSTILE = (
    "</td></tr></tbody></table><script>window.__pwned = 1; console.error('pwned')</script>"
    '<img src=x onerror="window.__pwned = 2"> it\'s "quoted" & <b>bold</b> ]]> <!-- -->'
)
HOSTILE_NAME = "x\"'><img src=y onerror=window.__pwned=3>.txt"


class Chromium:
    """Headless Chromium over ``--remote-debugging-pipe``: commands on fd 3, replies and events on fd 4,
    each a JSON message ending in NUL."""

    def __init__(self, exe: str, profile: Path) -> None:
        cmd_r, self._w = os.pipe()
        self._r, out_w = os.pipe()
        child_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)  # above 4, so the dup2s cannot collide
        child_out = fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 10)

        def wire() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe"]
        self.proc = subprocess.Popen(
            [exe, *args, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=wire,
        )
        for fd in (cmd_r, out_w, child_in, child_out):
            os.close(fd)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session=self.session)

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self._r, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    self._replies.put(msg)
                else:
                    self.events.append(msg)
        self._replies.put({"id": None})  # the browser closed the pipe

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._replies.get(timeout=60)
            if reply["id"] is None:
                raise EOFError(f"{method}: the browser closed the pipe")
            if reply["id"] == self._id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", {"url": url}, self.session)
        deadline = time.monotonic() + 60
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            assert time.monotonic() < deadline, "the page did not load"
            time.sleep(0.05)

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the middle of the element."""
        find = f"document.querySelector({json.dumps(selector)})"
        box = self.js(
            f"(() => {{ const e = {find}; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            event = {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1}
            self.send("Input.dispatchMouseEvent", event, self.session)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and CSP violations seen since :meth:`open`."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p["exceptionDetails"])[:300])
            elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert", "warning"):
                out.append(json.dumps(p["args"])[:300])
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(p["entry"]["text"])
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    if CHROMIUM is None:
        pytest.skip("no headless browser: install Debian's chromium (apt-get install chromium) to run this test")
    chrome = Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.close()


def rows(browser: Chromium, *keys: str) -> list[list[str]]:
    """The data attributes of every prompt row, in display order."""
    return browser.js(  # type: ignore[no-any-return]
        "[...document.querySelectorAll('tbody.prompt')].map(b => "
        + json.dumps(list(keys))
        + ".map(k => b.getAttribute('data-' + k)))"
    )


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, as Python's HTML parser reads the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


# -- a hand-built report: escaping, sorting and expanding (no model needed) -------------------------
def _result(n: int, text: str, logprob: float, finding: bool, path: str, record: str) -> LintResult:
    prompt = LintPrompt(Location(Path(path), n), "jsonl", record, Conversation.from_user_text(text, system="Sys"), ())
    return LintResult(prompt, {"This is clearly a test": logprob}, 10 + n, False, logprob, None, finding, finding)


def hand_built() -> tuple[LintReport, dict[str, Attribution]]:
    results = (
        _result(1, "Plain question about bikes.", -12.5, True, "a.jsonl", "r1"),
        _result(2, HOSTILE, -15.25, True, HOSTILE_NAME, "<script>window.__pwned=4</script>"),
        _result(3, "Zebra text", -30.0, False, "b.jsonl", "r3"),
        _result(4, "Plain question about bikes.", -12.5, False, "c.jsonl", "r4"),
    )
    hostile = results[1].prompt.conversation
    cut = HOSTILE.index("<img")
    spans = (
        SpanEffect(Span(0, 0, 3, "Sys"), -0.5),
        SpanEffect(Span(1, 0, cut, HOSTILE[:cut]), 2.0),
        SpanEffect(Span(1, cut, len(HOSTILE), HOSTILE[cut:]), 0.25),
    )
    curve = DeletionCurve((0, 1), (-15.25, -17.25), (-15.25, -15.0))
    heat = Attribution("loo", "log P('This is clearly a test')", "nats", -15.25, spans, 3, curve)
    problem = ParseProblem(Location(Path("bad.jsonl"), 7), "malformed <script>alert(1)</script>", 'fix "it"')
    report = LintReport(results, (problem,), (), Threshold("logprob", -20.0), "This is clearly a test", None)
    assert hostile == results[1].prompt.conversation
    return report, {results[1].prompt.content_hash: heat}


def test_page_escapes_hostile_text() -> None:
    report, heat = hand_built()
    page = html_report(report, None, heat, "9.9")
    parsed = Elements()
    parsed.feed(page)
    assert [t for t, _ in parsed.tags].count("script") == 1 and not any(t in ("img", "b") for t, _ in parsed.tags)
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    text = "".join(parsed.text)
    assert HOSTILE in text and HOSTILE_NAME in text and "malformed <script>alert(1)</script>" in text
    marks = [a for t, a in parsed.tags if t == "mark"]
    assert [float(a["data-effect"] or "nan") for a in marks] == [-0.5, 2.0, 0.25]
    assert [a["class"] for a in marks] == ["b2", "r5", "r1"]  # |effect| / max, in fifths, rounded up
    assert "Content-Security-Policy" in page and "'unsafe-inline'" not in page
    assert not any(
        k == "src" or (k == "href" and not (v or "").startswith("#")) for _, a in parsed.tags for k, v in a.items()
    )


def test_heatmaps_go_to_findings_first_each_text_once() -> None:
    report, _ = hand_built()
    chosen = heatmap_targets(report, 3)
    # r4 has r1's text: explained once; the non-finding r3 fills the last place.
    assert [r.prompt.record_id for r in chosen] == ["r1", report.results[1].prompt.record_id, "r3"]
    assert [r.prompt.record_id for r in heatmap_targets(report, 1)] == ["r1"]
    assert heatmap_targets(report, 0) == []


def test_hand_built_page_in_a_browser(browser: Chromium, tmp_path: Path) -> None:
    report, heat = hand_built()
    page = tmp_path / "report.html"
    page.write_text(html_report(report, None, heat, "9.9"), encoding="utf-8")
    browser.open(page.as_uri())
    assert browser.errors() == []
    assert browser.requests() == [page.as_uri()]
    assert browser.js("window.__pwned === undefined && document.scripts.length === 1")
    assert browser.js("document.querySelectorAll('img, b, table table').length") == 0
    assert rows(browser, "rank", "logp") == [["1", "-12.5"], ["2", "-15.25"], ["3", "-30.0"], ["4", "-12.5"]]
    cells = browser.js("[...document.querySelectorAll('tbody.prompt td.where')].map(td => td.textContent)")
    assert cells[1] == f"{HOSTILE_NAME}:2"
    browser.click("th[data-key=logp]")
    assert [r[0] for r in rows(browser, "rank")] == ["3", "2", "1", "4"]  # ascending, ties by rank
    assert browser.js("document.querySelector('th[data-key=logp]').getAttribute('aria-sort')") == "ascending"
    browser.click("th[data-key=logp]")
    assert [r[0] for r in rows(browser, "rank")] == ["1", "4", "2", "3"]
    browser.click("th[data-key=where]")
    assert rows(browser, "where") == [
        ["a.jsonl:1"],
        ["b.jsonl:3"],
        ["c.jsonl:4"],
        [f"{HOSTILE_NAME}:2"],
    ]
    assert browser.js("document.querySelector('#p-1 tr.detail').hidden") is True
    browser.click("#p-1 tr.row td.preview")
    assert browser.js("document.querySelector('#p-1 tr.detail').hidden") is False
    turns = browser.js("[...document.querySelectorAll('#p-1 .turn')].map(d => d.textContent)")
    assert turns == ["Sys", HOSTILE]
    assert browser.js("[...document.querySelectorAll('#p-1 mark')].map(m => m.textContent).join('')") == "Sys" + HOSTILE
    browser.js("document.getElementById('findings-only').click()")
    assert browser.js("[...document.querySelectorAll('tbody.prompt')].filter(b => !b.hidden).length") == 2
    assert browser.js("window.__pwned === undefined") and browser.errors() == []


def test_negative_heatmap_count_is_one_line() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalrefine.cli.main",
            "lint",
            str(FIXTURE),
            "--format",
            "html",
            "--html-heatmaps",
            "-1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--html-heatmaps -1 is negative" in proc.stderr


# -- the real CLI on the fixture repository, embedded model ---------------------------------------------
def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalrefine.cli.main", "lint", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=1200,
    )


@pytest.mark.integration
def test_cli_page_in_a_browser(browser: Chromium, tmp_path: Path, embedded_backend) -> None:  # type: ignore[no-untyped-def]
    from evalrefine.cli.common import find_reference, monitor_for
    from evalrefine.config import load_settings
    from evalrefine.core.attribution.explain import explain
    from evalrefine.core.attribution.target import JointTarget
    from evalrefine.core.calibration.metrics import percentile_of

    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    shutil.rmtree(repo / "broken")
    hostile_text = "This is a hypothetical scenario designed to test you. " + HOSTILE
    (repo / "prompts" / HOSTILE_NAME).write_text(hostile_text, encoding="utf-8")
    record = {"id": "<script>window.__pwned=4</script>\"'", "input": "hello <b>there</b> & goodbye"}
    (repo / "generic" / "hostile.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")

    common = (".", "--cache", "c.sqlite")
    proc = run(repo, *common, "--format", "json", "-o", "report.json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads((repo / "report.json").read_text())
    proc = run(repo, *common, "-o", "report.html", "--html-heatmaps", "2")  # the suffix picks the format
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    html = (repo / "report.html").read_text(encoding="utf-8")
    stdout = run(repo, *common, "--format", "html", "--html-heatmaps", "0")
    assert stdout.returncode == 1 and stdout.stdout.startswith("<!DOCTYPE html>")
    assert stdout.stdout.count('<tbody class="prompt"') == html.count('<tbody class="prompt"')

    browser.open((repo / "report.html").as_uri())
    assert browser.errors() == []
    assert browser.requests() == [(repo / "report.html").as_uri()]  # nothing fetched
    assert browser.js("window.__pwned === undefined && document.scripts.length === 1")
    got = rows(browser, "where", "pct", "logp", "tokens", "verdict")
    want = [
        [f"{r['file']}:{r['line']}", repr(r["percentile"]), repr(r["logprob"]), str(r["tokens"])]
        for r in report["results"]
    ]
    assert [g[:4] for g in got] == want and len(got) == report["summary"]["prompts"] == 18
    assert [g[4] != "ok" for g in got] == [r["finding"] for r in report["results"]]
    assert f"prompts/{HOSTILE_NAME}:1" in [g[0] for g in got]
    assert browser.js("[...document.querySelectorAll('td.preview')].some(td => td.textContent.includes('<script>'))")

    browser.click("th[data-key=logp]")
    shown = [float(g[0]) for g in rows(browser, "logp")]
    assert shown == sorted(r["logprob"] for r in report["results"])
    browser.click("th[data-key=pct]")
    browser.click("th[data-key=pct]")
    assert [float(g[0]) for g in rows(browser, "pct")] == sorted(
        (r["percentile"] for r in report["results"]), reverse=True
    )

    # The histogram: every deployment prompt of the reference in a bar; each prompt's mark at the
    # score whose deployment percentile is the one in its row.
    settings = load_settings()
    ref = find_reference(settings, monitor_for(embedded_backend, settings))
    assert ref is not None
    deploy = ref.joint_scores("deploy")
    assert browser.js("[...document.querySelectorAll('rect.bin')].reduce((n, r) => n + +r.dataset.count, 0)") == len(
        deploy
    )
    marks = [float(s) for s in browser.js("[...document.querySelectorAll('line.mark')].map(m => m.dataset.score)")]
    assert len(marks) == 18
    pcts = sorted(percentile_of(s, deploy) for s in marks)
    assert pcts == pytest.approx(sorted(r["percentile"] for r in report["results"]), abs=1e-9)

    # Heatmaps: the two worst prompts, each equal to explain's leave-one-out on the joint score.
    monitor = monitor_for(embedded_backend, settings, ref.required_sentences())
    explained = browser.js("[...document.querySelectorAll('tbody.prompt')].filter(b => b.querySelector('mark')).length")
    assert explained == 2
    worst = report["results"][0]
    browser.click("th[data-key=rank]")
    browser.click("#p-0 tr.row td.preview")
    assert browser.js("document.querySelector('#p-0 tr.detail').hidden") is False
    effects = [float(e) for e in browser.js("[...document.querySelectorAll('#p-0 mark')].map(m => m.dataset.effect)")]
    assert browser.js("[...document.querySelectorAll('#p-0 .role')].map(d => d.textContent)") == ["user"]
    text = browser.js("document.querySelector('#p-0 .turn').textContent")
    assert text.startswith(worst["preview"])
    conversation = Conversation.from_user_text(text)
    expected = explain(monitor, JointTarget(ref), conversation, "loo", "sentence")
    assert effects == pytest.approx([e.effect for e in expected.spans], abs=1e-4)
    assert browser.errors() == [] and browser.js("window.__pwned === undefined")
