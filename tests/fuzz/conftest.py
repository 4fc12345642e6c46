def pytest_terminal_summary(terminalreporter):
    """How many requests the fuzz sent (in this process: the whole count with -n 0)."""
    from tests.fuzz.test_api_schema import sent

    if sent["requests"]:
        terminalreporter.write_line(f"schemathesis: {sent['requests']} generated requests")
