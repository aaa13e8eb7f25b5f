import logging

from synthfoundry.redaction import MASK, RedactingFilter, redact


def test_known_keys_and_key_shaped_text_are_masked():
    assert redact("bad key my-secret-value here", ["my-secret-value"]) == f"bad key {MASK} here"
    assert redact("got Authorization: Bearer abcdefgh12345678") == f"got Authorization: {MASK}"
    assert redact("key sk-proj-AbCdEf0123456789xyz rejected") == f"key {MASK} rejected"
    assert redact("a short token sk-1 and ordinary words stay") == "a short token sk-1 and ordinary words stay"


def test_log_records_are_redacted_arguments_and_exceptions_included(caplog):
    logger = logging.getLogger("test-redaction")
    caplog.handler.addFilter(RedactingFilter(["hunter2-secret"]))
    logger.warning("server said %s", "no such key hunter2-secret")
    try:
        raise RuntimeError("echo: hunter2-secret")
    except RuntimeError:
        logger.exception("request failed")
    assert "hunter2-secret" not in caplog.text
    assert f"server said no such key {MASK}" in caplog.text and f"RuntimeError: echo: {MASK}" in caplog.text
