"""Webhooks told of a decision, against a real HTTP server on loopback: retries, deadline, Slack's form, no secret shown."""
from __future__ import annotations

import time

import pytest

from checks.errors import UsageError
from checks.landing.notify import Policy, check_url, is_slack, notify, shown, should_notify, slack_message

MESSAGE = {
    "feed": "johnnys-jeans", "decision": "refuse", "findings": ["volume_anomaly: delta5.csv: 828 rows vs usual 2,488 rows"],
    "notes": [], "data_docs": "out/gx/index.html", "history": "out/history.html", "incident": None, "results": "out/gate.json",
}
FAST = Policy(attempts=3, backoff=0.01, deadline=5.0)


@pytest.mark.parametrize(
    ("statuses", "delivered", "attempts", "error"),
    [
        ([], True, 1, None),
        ([500, 503], True, 3, None),  # the webhook recovers within the attempts
        ([503, 503, 503], False, 3, "HTTP 503"),
        ([404], False, 1, "HTTP 404"),  # a wrong URL is not retried
    ],
)
def test_delivery_with_retries(webhook, statuses: list[int], delivered: bool, attempts: int, error: str | None) -> None:
    webhook.statuses.extend(statuses)
    (delivery,) = notify([webhook.url], MESSAGE, FAST)
    assert (delivery.delivered, delivery.attempts, delivery.error) == (delivered, attempts, error)
    assert webhook.received == ([MESSAGE] if delivered else [])
    assert "s3cr3t" not in str(delivery) and delivery.target.endswith("/…")


def test_a_slow_webhook_delays_nothing_beyond_the_deadline(webhook) -> None:
    webhook.delay = 3.0
    started = time.monotonic()
    (delivery,) = notify([webhook.url], MESSAGE, Policy(attempts=3, backoff=0.01, deadline=0.5))
    assert time.monotonic() - started < 1.5
    assert not delivery.delivered and "timed out" in str(delivery.error)


def test_nothing_listening_is_reported_without_the_url() -> None:
    (delivery,) = notify(["http://127.0.0.1:9/hooks/x?token=s3cr3t"], MESSAGE, FAST)  # port 9: nothing listens
    assert not delivery.delivered and delivery.attempts == 3
    assert "s3cr3t" not in str(delivery) and "hooks" not in str(delivery)


@pytest.mark.parametrize(
    ("url", "printed"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/…"),
        ("http://127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/…"),
        ("https://user:pass@example.invalid/x", "https://example.invalid/…"),
    ],
)
def test_a_url_is_shown_without_its_secret_parts(url: str, printed: str) -> None:
    assert shown(url) == printed


@pytest.mark.parametrize("url", ["ftp://example.invalid/x", "hooks.slack.com/services/x", "http:///nohost"])
def test_a_webhook_must_be_http_with_a_host(url: str) -> None:
    with pytest.raises(UsageError, match="needs an http"):
        check_url(url)


def test_slack_gets_its_own_form() -> None:
    assert is_slack("https://hooks.slack.com/services/T/B/X") and not is_slack("https://example.invalid/hooks.slack.com")
    message = slack_message(MESSAGE)
    assert message["text"].startswith(":no_entry: *johnnys-jeans*: gate decided *refuse*")
    assert "• `volume_anomaly: delta5.csv: 828 rows vs usual 2,488 rows`" in message["text"]
    assert message["blocks"][0]["text"]["type"] == "mrkdwn"


@pytest.mark.parametrize(
    ("decision", "notify_on", "told"),
    [("refuse", "refuse", True), ("load", "refuse", False), ("could not decide", "refuse", True), ("load", "always", True)],
)
def test_who_is_told_when(decision: str, notify_on: str, told: bool) -> None:
    assert should_notify(decision, notify_on) is told


def test_a_webhook_speaking_no_http_is_a_failed_delivery() -> None:
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def garbage() -> None:
        for _ in range(3):
            connection, _ = listener.accept()
            connection.recv(65536)
            connection.sendall(b"not http at all\r\n\r\n")
            connection.close()

    thread = threading.Thread(target=garbage, daemon=True)
    thread.start()
    try:
        (delivery,) = notify([f"http://127.0.0.1:{port}/hook?token=s3cr3t"], MESSAGE, FAST)
    finally:
        listener.close()
    assert not delivery.delivered and delivery.attempts == 3 and "s3cr3t" not in str(delivery)
