"""Telling people about a gate's decision: one JSON POST per decision to each webhook, Slack-formatted for Slack.

Standard library only (``urllib``). Each webhook gets a few attempts with a growing pause between
them, all within one deadline, in parallel, so a slow or dead webhook delays the gate by at most
that deadline and never changes its decision or exit code. A URL is shown only as its scheme and
host: its path and query often carry the webhook's secret token.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

ON_REFUSE = "refuse"
ON_ALWAYS = "always"
NOTIFY_ON: tuple[str, ...] = (ON_REFUSE, ON_ALWAYS)
SLACK_HOSTS = ("hooks.slack.com",)
# HTTP answers worth another attempt: the webhook is busy or down for a moment.
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    """What became of one notification: ``target`` is the webhook's URL without its secret parts."""

    target: str
    delivered: bool
    attempts: int
    error: str | None = None

    def __str__(self) -> str:
        if self.delivered:
            return f"notified {self.target}"
        return f"notification to {self.target} failed after {self.attempts} attempt(s): {self.error}"


@dataclass(frozen=True)
class Policy:
    """How hard to try: ``attempts`` per webhook, pauses from ``backoff`` seconds doubling, all within ``deadline`` seconds."""

    attempts: int = 3
    backoff: float = 0.5
    deadline: float = 10.0


def shown(url: str) -> str:
    """The URL as it may be printed: scheme and host only (``https://hooks.slack.com/…``)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def is_slack(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in SLACK_HOSTS


def check_url(url: str) -> None:
    """``UsageError`` for a webhook URL that is not http(s) with a host (shown without its secret parts)."""
    from checks.errors import UsageError

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--notify needs an http(s) URL with a host, not {shown(url) if parts.scheme else 'that value'}")


def should_notify(decision: str, notify_on: str) -> bool:
    """``refuse``: every decision that is not ``load``; ``always``: every decision."""
    return notify_on == ON_ALWAYS or decision != "load"


def slack_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """The decision as a Slack incoming-webhook message: a headline, the findings, the links."""
    mark = ":white_check_mark:" if message["decision"] == "load" else ":no_entry:"
    lines = [f"{mark} *{message['feed']}*: gate decided *{message['decision']}*"]
    findings = list(message.get("findings", []))
    lines += [f"• `{finding}`" for finding in findings[:20]]
    if len(findings) > 20:
        lines.append(f"… and {len(findings) - 20} more in gate.json")
    lines += [f"• note: {note}" for note in message.get("notes", [])]
    for label, key in (("Data Docs", "data_docs"), ("incident", "incident"), ("gate.json", "results")):
        if message.get(key):
            lines.append(f"{label}: {message[key]}")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]}


def notify(urls: Sequence[str], message: Mapping[str, Any], policy: Policy = Policy()) -> list[Delivery]:
    """POST ``message`` to every URL at once (Slack's form for a Slack URL); one ``Delivery`` each, never an exception."""
    if not urls:
        return []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(pool.map(lambda url: _deliver(url, message, policy, started), urls))


def _deliver(url: str, message: Mapping[str, Any], policy: Policy, started: float) -> Delivery:
    import http.client
    import urllib.error
    import urllib.request

    body = json.dumps(slack_message(message) if is_slack(url) else dict(message), default=str).encode("utf-8")
    error, attempts = "no attempt made", 0
    for attempt in range(policy.attempts):
        remaining = policy.deadline - (time.monotonic() - started)
        if remaining <= 0.05:
            error = f"{error}; deadline of {policy.deadline:g} s reached"
            break
        attempts += 1
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "checks-gate"}
        )
        try:
            with urllib.request.urlopen(request, timeout=remaining) as response:  # noqa: S310 - http(s) checked by check_url
                response.read(1024)
            return Delivery(shown(url), True, attempts)
        except urllib.error.HTTPError as failure:
            error = f"HTTP {failure.code}"
            if failure.code not in _RETRY_STATUS:
                break
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as failure:
            error = _reason(failure, url)
        except Exception as failure:  # noqa: BLE001 - a notification must never change the decision
            error = f"unexpected {type(failure).__name__}"
        pause = policy.backoff * 2**attempt
        if attempt + 1 < policy.attempts and time.monotonic() - started + pause < policy.deadline:
            time.sleep(pause)
    return Delivery(shown(url), False, attempts, error)


def _reason(failure: Exception, url: str) -> str:
    """One line for a failed connection, with nothing of the URL beyond what ``shown`` prints."""
    reason = getattr(failure, "reason", failure)
    text = str(reason).strip() or type(failure).__name__
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if secret and len(secret) > 1:
            text = text.replace(secret, "…")
    return text.splitlines()[0][:200]
