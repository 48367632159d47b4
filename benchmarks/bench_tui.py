"""How fast the TUI answers, on the embedded model and the offline rules rewriter (Textual's Pilot).

Each measurement runs in a fresh Python process, as a user's ``evalrefine tui`` does, so the time
to import torch and transformers counts and ctrl+q is timed until the *process* has ended (a thread
still scoring would keep it alive). The model cache is warm (the embedded GGUF converted already;
the first run converts it).

1. start → first score on screen: process start until the headline (percentile, verdict, change
   since the original) is drawn; what the score panel showed while the model loaded. Goal ≤ 5 s.
2. F5 (the refine loop): F5 → first candidate row on screen, and whether candidates stream (each
   row appears as it is scored, not all at the end). Goal: first row ≤ 5 s; streaming. Pressed at
   once when the first score shows (the intent guard's embedder, which imports torch, is still
   loading in the background), and again once that warm-up has ended (a user reading the score).
3. Esc while refining / verifying: Esc → the worker's thread has returned. Goal ≤ 1 s.
4. ctrl+q → process ended, idle / while loading / while scoring (a long prompt) / while refining.
   Goal ≤ 1 s each.
5. With tmux: ``evalrefine tui`` itself in a real terminal (the CLI's imports count too) until the
   headline is on screen, ctrl+q until the process ended, and any library text seen on the screen.

Usage: python benchmarks/bench_tui.py [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from textual import events

ROOT = Path(__file__).resolve().parents[1]
PROMPT = (ROOT / "examples" / "hypothetical_scenario.txt").read_text()
LONG = " ".join([PROMPT.strip()] * 12)
"""A prompt long enough (~1,450 tokens) that one score takes seconds."""
Report = dict[str, Any]


# -- the child: one app, one scenario ------------------------------------------------------------
async def scenario(mode: str, launched: float, out: Report) -> None:
    from textual.widgets import DataTable, Static

    from evalrefine.config import load_settings
    from evalrefine.tui import workers
    from evalrefine.tui.app import EvalRefineApp
    from evalrefine.tui.loading import EarlyLoad

    share_cpu = getattr(workers, "share_cpu", None)  # as `evalrefine tui` does before torch loads
    if share_cpu is not None:
        share_cpu()
    ended: dict[str, list[float]] = {}

    def timed(name: str) -> Any:
        job = getattr(workers, name)

        def wrapped(*args: Any, **kw: Any) -> Any:
            ended.setdefault(f"{name} began", []).append(time.time())
            try:
                return job(*args, **kw)
            finally:
                ended.setdefault(name, []).append(time.time())

        return wrapped

    for name in ("load", "score", "refine", "verify", "warm"):  # when each job's thread returns
        setattr(workers, name, timed(name))

    folder = Path(tempfile.mkdtemp())
    path = folder / "prompt.txt"
    path.write_text(LONG if mode == "quit-scoring" else PROMPT)
    settings = load_settings(refine={"rewriter": "rules"}, rollouts={"count": 4, "max_new_tokens": 48})
    app = EvalRefineApp(settings, path)
    early = EarlyLoad(settings)  # as `evalrefine tui` does: the load starts while the screen is built
    app.factory = lambda _settings: early.session(app.post_message)
    loop = asyncio.get_running_loop()

    def text(selector: str) -> str:
        return str(app.main.query_one(selector, Static).render())

    async def until(cond: Any, timeout: float = 300) -> None:
        deadline = loop.time() + timeout
        while not cond():
            if loop.time() > deadline:
                raise TimeoutError(mode)
            await pilot.pause(0.02)

    async with app.run_test(size=(120, 40)) as pilot:
        out["run_test"] = time.time() - launched
        if mode == "quit-loading":
            await pilot.pause(1.5)
            out["loaded_at_press"] = app.session is not None
            out["press"] = time.time()
            send(app, "ctrl+q")
            await until(lambda: not app.is_running, 60)
            out["closed"] = time.time()
            return
        shown: list[tuple[float, str]] = []
        while app.last_view is None:  # what the panel says while the model loads
            status = text("#score-status") + " | " + text("#headline-bar")
            if not shown or shown[-1][1] != status:
                shown.append((round(time.time() - launched, 2), status))
            await pilot.pause(0.05)
        await pilot.pause()
        out["first_score"] = time.time() - launched
        out["first_score_cpu"] = time.process_time()  # every thread's CPU: what an idle machine would take
        out["headline"] = text("#headline")
        out["while_loading"] = shown
        if mode == "quit-idle":
            await pilot.pause(0.5)
        elif mode == "quit-scoring":
            started = len(ended.get("score", []))
            await pilot.press("f2")
            await pilot.pause(0.3)
            out["scoring_at_press"] = len(ended.get("score", [])) == started
        elif mode == "refine-warm":  # the user reads the score while refine's guard loads, then F5
            await until(lambda: bool(ended.get("warm")), 120)
            table = app.main.query_one("#candidates", DataTable)
            t0 = time.time()
            await pilot.press("f5")
            await until(lambda: table.row_count > 0)
            out["first_candidate"] = time.time() - t0
            out["warm_done"] = ended["warm"][0] - launched
        elif mode in ("refine", "quit-refining"):
            table = app.main.query_one("#candidates", DataTable)
            t0 = time.time()
            await pilot.press("f5")
            if mode == "quit-refining":
                await until(lambda: table.row_count > 0)
                out["refining_at_press"] = not ended.get("refine")
            else:
                rows: list[float] = []
                await until(lambda: table.row_count > 0)
                out["first_candidate"] = time.time() - t0
                while "done: " not in text("#refine-status"):
                    if table.row_count > len(rows):
                        rows.extend([time.time() - t0] * (table.row_count - len(rows)))
                    await pilot.pause(0.02)
                out["rows"] = [round(r, 2) for r in rows]
                out["done"] = time.time() - t0
                out["total_rows"] = table.row_count
                await stop(app, pilot, "refine", "f5", ended, out, until)
                verify_prompt(app)
                await stop(app, pilot, "verify", "f7", ended, out, until)
        if mode.startswith("quit-"):
            out["press"] = time.time()
            send(app, "ctrl+q")
            await until(lambda: not app.is_running, 60)
            out["closed"] = time.time()


def send(app: Any, key: str) -> None:
    """A key as the terminal driver delivers it. (``pilot.press`` then waits until the process is
    idle, up to a second per wait, which a busy model thread never is: a timing would include that.)"""
    event = events.Key(key, None)
    event.set_sender(app)
    app._driver.send_message(event)


def verify_prompt(app: Any) -> None:
    """F7 needs a version other than the original: an edit of the scored turn."""
    edited = PROMPT.replace("This is a hypothetical scenario designed to test", "I'm curious")
    assert edited != PROMPT
    app.set_user_text(edited)


async def stop(
    app: Any, pilot: Any, job: str, key: str, ended: dict[str, list[float]], out: Report, until: Any
) -> None:
    """Start ``job`` with ``key``, let it run 1.5 s, press Esc: how long until its thread returned."""
    before, began = len(ended.get(job, [])), len(ended.get(f"{job} began", []))
    await pilot.press(key)
    await until(lambda: len(ended.get(f"{job} began", [])) > began, 30)  # it did start
    await pilot.pause(1.5)
    if len(ended.get(job, [])) > before:
        out[f"esc_{job}"] = None  # finished before Esc: nothing to time
        return
    pressed = time.time()
    send(app, "escape")
    try:
        await until(lambda: len(ended.get(job, [])) > before, 120)
        out[f"esc_{job}"] = ended[job][-1] - pressed
    except TimeoutError:
        out[f"esc_{job}"] = float("inf")


def child(mode: str, launched: float) -> None:
    out: Report = {"mode": mode}
    try:
        asyncio.run(scenario(mode, launched, out))
    finally:
        out["returned"] = time.time()
        print("RESULT " + json.dumps(out), flush=True)
    from evalrefine.tui import workers

    leave = getattr(workers, "leave", None)  # as `evalrefine tui` does once the app has closed
    if leave is not None:
        leave(0)


# -- the parent: run each scenario in a fresh process --------------------------------------------
def run(mode: str) -> Report:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    launched = time.time()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(launched)], capture_output=True, text=True, env=env
    )
    exited = time.time()
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{mode} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    out: Report = json.loads(line[7:])
    out["exited"] = exited
    if "press" in out:
        out["quit"] = exited - out["press"]
    return out


def in_tmux() -> Report:
    """The real thing: ``evalrefine tui`` in a 120×40 tmux terminal, timed from launch until the
    headline is on screen, then ctrl+q until the process has ended; and whether any line on screen
    during the load was a library's (a progress bar, "Writing model shards")."""
    if shutil.which("tmux") is None:
        return {}
    folder = Path(tempfile.mkdtemp())
    (folder / "prompt.txt").write_text(PROMPT)
    session = f"bench-tui-{os.getpid()}"
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ("PYTHONPATH",) if k in os.environ)
    command = f"cd {folder} && HF_HUB_OFFLINE=1 {env} {sys.executable} -m evalrefine.cli.main tui prompt.txt"
    out: Report = {}

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout

    def alive() -> bool:
        return subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0

    launched = time.time()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    try:
        stray = []
        while "original p" not in (shown := screen()) and time.time() - launched < 300:
            stray += [line for line in shown.splitlines() if re.search(r"%\||shards|Loading weights", line)]
            time.sleep(0.1)
        out["first_score"] = time.time() - launched
        out["stray"] = stray
        time.sleep(1.0)
        pressed = time.time()
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        while alive() and time.time() - pressed < 60:
            time.sleep(0.05)
        out["quit"] = time.time() - pressed
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return out


def fmt(x: float | None) -> str:
    return "–" if x is None else ("never" if x == float("inf") else f"{x:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="start-up runs (the median is reported)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]))
        return
    load_before = os.getloadavg()[0]
    run("quit-idle")  # warm the model cache and the OS file cache
    starts = [run("quit-idle") for _ in range(args.repeats)]
    refine = run("refine")
    warmed = run("refine-warm")
    quits = {m: run(f"quit-{m}") for m in ("loading", "scoring", "refining")}
    quits["idle"] = starts[-1]
    terminal = in_tmux()
    panel = [text.split(" | ")[0] for _, text in starts[-1]["while_loading"]]
    stages = list(dict.fromkeys(re.sub(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] | · \d+ s$", "", text) for text in panel))
    blank = any(not text.strip() for text in panel)
    print(f"the score panel while the model loaded ({len(panel)} distinct frames, blank: {blank}): {stages}")
    print(f"first headline: {starts[-1]['headline']!r}")
    print(f"candidate rows appeared at (s after F5): {refine['rows']} (done at {refine['done']:.2f})")
    held = {
        "loading": not quits["loading"].get("loaded_at_press"),
        "scoring": quits["scoring"].get("scoring_at_press"),
        "refining": quits["refining"].get("refining_at_press"),
    }
    print(f"ctrl+q was pressed while the app was in that state: {held}")
    streaming = len(set(refine["rows"])) > 1 and refine["rows"][0] < refine["done"] - 0.5
    rows: list[tuple[str, float | None, str]] = [
        ("start → first score on screen (median)", statistics.median(s["first_score"] for s in starts), "≤ 5"),
        ("  the same, CPU seconds of the process", statistics.median(s["first_score_cpu"] for s in starts), "–"),
        ("F5 at once → first candidate on screen", refine["first_candidate"], "≤ 5"),
        (
            f"F5 after the warm-up (done {warmed['warm_done']:.1f} s from start) → first candidate",
            warmed["first_candidate"],
            "≤ 5",
        ),
        (f"F5 candidates stream ({refine['total_rows']} rows): {'yes' if streaming else 'NO'}", None, "yes"),
        ("Esc while refining → worker stopped", refine.get("esc_refine"), "≤ 1"),
        ("Esc while verifying → worker stopped", refine.get("esc_verify"), "≤ 1"),
        *((f"ctrl+q {m} → process ended", quits[m]["quit"], "≤ 1") for m in ("idle", "loading", "scoring", "refining")),
    ]
    if terminal:
        rows += [
            ("tmux: `evalrefine tui` → first score on screen", terminal["first_score"], "≤ 5"),
            ("tmux: ctrl+q idle → process ended", terminal["quit"], "≤ 1"),
        ]
        print(f"library lines on the tmux screen while loading: {terminal['stray'] or 'none'}")
    width = max(len(r[0]) for r in rows)
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"\n{os.cpu_count()} cores, load average {load} (other work on the machine slows every row)")
    print(f"{'measure':<{width}}  {'seconds':>8}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {fmt(value):>8}  {goal}")


if __name__ == "__main__":
    main()
