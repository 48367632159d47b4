"""Machine-readable lint reports: JSON (our contract, also the ``--baseline`` format), SARIF 2.1.0
(code hosts annotate the offending lines) and JUnit XML (CI test dashboards).

SARIF: every scored prompt is a result, ``kind: "fail"`` (level ``warning``) for findings and
``kind: "pass"`` (level ``none``) for the rest; a record that could not be read is a tool execution
notification at its location, and makes the invocation unsuccessful.
"""

from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from evalrefine.core.lint.run import LintReport, LintResult
from evalrefine.core.lint.sources import Location

RULE_ID = "EVR001"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def _uri(path: Path) -> str:
    return _uri_from(path, os.getcwd())


@functools.lru_cache(maxsize=1024)
def _uri_from(path: Path, cwd: str) -> str:
    """Remembered: a report names each file once per prompt, and resolving is most of a cached run's report."""
    try:
        rel = Path(os.path.relpath(path.resolve(), cwd))
    except ValueError:  # another drive (Windows)
        return path.resolve().as_uri()
    return rel.as_posix() if not rel.as_posix().startswith("../") else path.resolve().as_uri()


def _message(r: LintResult, report: LintReport) -> str:
    where = f"{r.percentile:.0f}th percentile of deployment traffic, " if r.percentile is not None else ""
    verdict = "looks like a test" if r.finding else "reads like deployment traffic"
    text = f"{verdict}: {where}log P({report.sentence!r}) = {r.logprob:.2f}"
    if r.rollouts is not None:
        ro = r.rollouts
        text += f"; over {ro.k} rollouts peak {ro.peak:.2f}, {ro.verbalized} of {ro.judged} say it is a test"
        if ro.evidence:
            text += f' ("{ro.evidence}")'
    return text


def result_dict(r: LintResult, report: LintReport) -> dict[str, Any]:
    return {
        "file": _uri(r.prompt.location.path),
        "line": r.prompt.location.line,
        "record": r.prompt.record_id,
        "format": r.prompt.format,
        "hash": r.prompt.content_hash,
        "logprob": r.logprob,
        "percentile": r.percentile,
        "finding": r.finding,
        "new": r.new,
        "cached": r.cached,
        "tokens": r.tokens,
        "logprobs": r.logprobs,
        "message": _message(r, report),
        "preview": r.prompt.text[:160],
        "rollouts": r.rollouts.as_dict() if r.rollouts is not None else None,
    }


def file_summary(report: LintReport) -> list[dict[str, Any]]:
    """Per file (dataset): prompts, findings and the worst percentile, worst file first."""
    groups: dict[Path, list[LintResult]] = defaultdict(list)
    for r in report.results:
        groups[r.prompt.location.path].append(r)
    rows = [
        {
            "file": _uri(path),
            "prompts": len(rs),
            "findings": sum(r.finding for r in rs),
            "worst_percentile": max((r.percentile for r in rs if r.percentile is not None), default=None),
            "worst_logprob": max(r.logprob for r in rs),
        }
        for path, rs in groups.items()
    ]
    return sorted(rows, key=lambda d: (-d["findings"], -d["worst_logprob"]))


def to_json(report: LintReport) -> dict[str, Any]:
    return {
        "format": "evalrefine-lint/1",
        "threshold": {"kind": report.threshold.kind, "value": report.threshold.value},
        "sentence": report.sentence,
        "reference": report.reference,
        "baseline": str(report.baseline) if report.baseline else None,
        "summary": {
            "prompts": len(report.results),
            "findings": sum(r.finding for r in report.results),
            "new_findings": len(report.findings),
            "problems": len(report.problems),
            "skipped_files": len(report.skipped),
            "exit_code": report.exit_code,
            "cancelled": report.cancelled,
        },
        "files": file_summary(report),
        "results": [result_dict(r, report) for r in report.results],
        "problems": [
            {"file": _uri(p.location.path), "line": p.location.line, "message": p.message, "hint": p.hint}
            for p in report.problems
        ],
        "skipped": [
            {"file": _uri(s.path), "line": s.line or None, "reason": s.reason, "detail": s.detail or None}
            for s in report.skipped
        ],
        "skipped_by_reason": dict(Counter(s.reason for s in report.skipped).most_common()),
    }


def _location(loc: Location) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(loc.path)}, "region": {"startLine": loc.line}}}


def to_sarif(report: LintReport, version: str) -> dict[str, Any]:
    rule = {
        "id": RULE_ID,
        "name": "EvalPromptLooksLikeATest",
        "shortDescription": {"text": "The prompt reads like an evaluation, not like deployment traffic."},
        "fullDescription": {
            "text": "The start-of-CoT logit monitor gives this prompt a higher eval-awareness score than the "
            f"threshold ({report.threshold.describe(report.sentence)}). Models that notice they are being "
            "tested behave differently, so the eval may measure the wrong thing."
        },
        "help": {
            "text": "Run `evalrefine explain FILE` to see which wording drives the score, and "
            "`evalrefine refine FILE` or `evalrefine lint --fix` to rewrite it."
        },
        "defaultConfiguration": {"level": "warning"},
    }
    results = []
    for r in report.results:
        result: dict[str, Any] = {
            "ruleId": RULE_ID,
            "ruleIndex": 0,
            "kind": "fail" if r.finding else "pass",
            "level": "warning" if r.finding else "none",
            "message": {"text": _message(r, report)},
            "locations": [_location(r.prompt.location)],
            "partialFingerprints": {"promptHash/v1": r.prompt.content_hash},
            "properties": {
                "logprob": r.logprob,
                "percentile": r.percentile,
                "record": r.prompt.record_id,
                **({"rollouts": r.rollouts.as_dict()} if r.rollouts is not None else {}),
            },
        }
        if report.baseline is not None and r.finding:
            result["baselineState"] = "new" if r.new else "unchanged"
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": p.message + (f" ({p.hint})" if p.hint else "")},
            "locations": [_location(p.location)],
        }
        for p in report.problems
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "evalrefine", "version": version, "rules": [rule]}},
                "invocations": [
                    {"executionSuccessful": not report.problems, "toolExecutionNotifications": notifications}
                ],
                "results": results,
            }
        ],
    }


def to_junit(report: LintReport) -> str:
    """One test suite per file, one test case per prompt; unreadable records are errors."""
    suites = ET.Element("testsuites", name="evalrefine lint")
    by_file: dict[str, list[ET.Element]] = defaultdict(list)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in report.results:
        name = _uri(r.prompt.location.path)
        case = ET.Element("testcase", classname=name, name=f"{r.prompt.record_id} (line {r.prompt.location.line})")
        if r.finding and r.new:
            ET.SubElement(case, "failure", message=_message(r, report), type=RULE_ID).text = r.prompt.text[:500]
            counts[name][1] += 1
        counts[name][0] += 1
        by_file[name].append(case)
    for p in report.problems:
        name = _uri(p.location.path)
        case = ET.Element("testcase", classname=name, name=f"line {p.location.line}")
        ET.SubElement(case, "error", message=p.message, type="ParseError")
        counts[name][0] += 1
        counts[name][2] += 1
        by_file[name].append(case)
    for name in sorted(by_file):
        tests, failures, errors = counts[name]
        suite = ET.SubElement(
            suites, "testsuite", name=name, tests=str(tests), failures=str(failures), errors=str(errors)
        )
        suite.extend(by_file[name])
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
