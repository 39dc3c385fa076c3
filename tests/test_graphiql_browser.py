"""GraphiQL in a real headless Chromium, with the network cut off beyond loopback: the page,
its assets and the query all come from a real uvicorn started by `leadgraph quickstart`."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="Chromium is not installed here (CI installs Debian's chromium and "
        "chromium-driver; `apt-get install -y chromium chromium-driver` for a local run)",
    ),
    pytest.mark.skipif(
        os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
        reason="runs in the SQLite pass: `make run` (the quickstart) serves SQLite",
    ),
]

# Resolves nothing but loopback, and sends everything else to a dead proxy port.
NETWORK_CUT = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1;localhost",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def quickstart_server(tmp_path: Path):
    """`leadgraph quickstart` (what `make run` runs) on a fresh SQLite file and a free port."""
    port = free_port()
    env = {
        **os.environ,
        "LEADGRAPH_DATABASE_URL": f"sqlite://{tmp_path / 'quickstart.sqlite3'}",
        "LEADGRAPH_PORT": str(port),
        "LEADGRAPH_RESCORE_INTERVAL_SECONDS": "0",
        "LEADGRAPH_LOG_LEVEL": "warning",
    }
    env.pop("LEADGRAPH_TEST_DATABASE_URL", None)
    leadgraph = Path(sys.executable).with_name("leadgraph")
    with (tmp_path / "server.log").open("w") as log:  # the child keeps its own copy
        process = subprocess.Popen([leadgraph, "quickstart"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # migrations and 500 demo contacts first
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("quickstart did not serve: " + (tmp_path / "server.log").read_text())
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]:
        options.add_argument(argument)
    for argument in NETWORK_CUT:
        options.add_argument(argument)
    options.add_argument("--window-size=1400,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def editor_value(driver, selector: str) -> str:
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.CodeMirror.getValue() : null",
        selector,
    )


def wait_for(condition, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


CDN_PROBE = "https://unpkg.com/graphiql@3.8.3/package.json"
RESPONSE = ".graphiql-response .CodeMirror"
HEADERS = ".graphiql-editor-tool > .graphiql-editor:not(.hidden) > .CodeMirror"


def test_graphiql_runs_a_query_offline_with_the_quickstart_key(
    quickstart_server, browser, tmp_path
):
    """The page loads with no network beyond loopback (assets from the package, nothing from
    a CDN), opens with the quickstart key pre-filled and a visible hint, runs a query, and,
    once the key is removed, fails politely and says how to set the Authorization header."""
    from selenium.webdriver.common.by import By

    browser.get(f"{quickstart_server}/graphql")

    # The network really is cut: a CDN is unreachable from this browser.
    reached = browser.execute_async_script(
        "const done = arguments[1];fetch(arguments[0]).then(() => done(true), () => done(false))",
        CDN_PROBE,
    )
    assert reached is False

    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".graphiql-execute-button"),
        what="GraphiQL to render",
    )
    hint = browser.find_element(By.ID, "hint").text
    assert "admin key is already filled in" in hint
    headers = editor_value(browser, HEADERS)
    assert '"Authorization": "Bearer lg_' in headers

    # The schema came through introspection with the pre-filled key (the doc explorer knows it).
    wait_for(
        lambda: browser.execute_script(
            "return !!document.querySelector('.graphiql-container .graphiql-spinner') === false"
        ),
        what="the schema",
    )
    browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    wait_for(
        lambda: '"totalCount": 50' in (editor_value(browser, RESPONSE) or ""),
        what="the query's answer",
    )
    answer = editor_value(browser, RESPONSE)
    assert '"name":' in answer and '"errors"' not in answer
    browser.save_screenshot(str(tmp_path / "graphiql-query.png"))

    # Every resource the page loaded came from the server itself.
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    resources = [r for r in resources if r != CDN_PROBE]
    assert resources and all(r.startswith(quickstart_server) for r in resources), resources
    assert any("/graphiql/assets/" in r and r.endswith("graphiql.min.js") for r in resources)

    # Without a key: the schema fetch fails politely, the hint turns into instructions.
    browser.execute_script(
        "document.querySelector(arguments[0]).CodeMirror.setValue('{}')", HEADERS
    )
    wait_for(
        lambda: "No valid API key yet" in browser.find_element(By.ID, "hint").text,
        what="the hint about the missing key",
    )
    hint = browser.find_element(By.ID, "hint").text
    assert '{"Authorization": "Bearer lg_…"}' in hint
    browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    wait_for(
        lambda: "Missing API key." in (editor_value(browser, RESPONSE) or ""),
        what="the polite error",
    )
    assert "Headers tab" in editor_value(browser, RESPONSE)
    browser.save_screenshot(str(tmp_path / "graphiql-no-key.png"))
    severe = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE"
        and "401" not in entry["message"]  # the keyless requests, answered as they should be
        and CDN_PROBE not in entry["message"]
    ]
    assert severe == []
