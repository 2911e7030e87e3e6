"""The operator's status page in a real browser, against a running controller and two nodes.

Headless Chromium (Debian's package, driven by Selenium and chromedriver) opens the page
that ``exhibit controller --http`` serves, while two headless ``exhibit node`` processes
play a three-cue show. It sees both nodes joined, presses GO and sees the next cue arrive
through the event stream (the page is never reloaded), sees a kiosk's item and language
in the header and in each node's cue cell (issue 14), presses Blackout and sees it on,
and sees a node killed with SIGKILL shown as lost within a second. The screenshot it
takes is ``docs/images/console.png`` when ``EXHIBIT_WRITE_DOCS_IMAGES=1``.

Skipped, with the reason, where Chromium or chromedriver is missing (``.ci/run`` installs
both).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..e2e.conftest import CONTENT, ROOT, Procs, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
DISPLAYS = ("left", "centre")
START_S = 120.0

SHOW = """\
[show]
id = "console-test"
title = { zh = "控制台", en = "Console test", ru = "Пульт" }
loop = true

[[bundles]]
id = "ice-festival"
file = "ice-festival.exb"

[[cues]]
id = "castle"
bundle = "ice-festival"
scene = "castle-night"
duration = 600.0

[[cues]]
id = "lanterns"
bundle = "ice-festival"
scene = "lantern-walk"
duration = 600.0

[[cues]]
id = "castle-again"
bundle = "ice-festival"
scene = "castle-night"
duration = 600.0
"""


class Wall:
    """A controller with ``--http`` and two headless nodes, as real processes."""

    def __init__(self, folder: Path, bundle_dir: Path) -> None:
        from exhibit_engine.cli.demo import free_ports

        self.folder = folder
        self.show = folder / "show.toml"
        self.show.write_text(SHOW, encoding="utf-8")
        self.state_port, self.publish_port, self.http_port = free_ports(3)
        self.bundle_dir = bundle_dir
        self.procs = Procs(folder)
        self.common = ["--venue", str(CONTENT / "venue.toml"), "--show", str(self.show),
                       "--host", "127.0.0.1", "--state-port", str(self.state_port),
                       "--publish-port", str(self.publish_port)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    def start_all(self) -> None:
        self.procs.start("controller", "controller", *self.common, "--no-state",
                         "--bundle-dir", str(self.bundle_dir),
                         "--http", f"127.0.0.1:{self.http_port}")
        for d in DISPLAYS:
            self.procs.start(f"node-{d}", "node", *self.common, "--display", d,
                             "--bundle-dir", str(self.bundle_dir), "--headless",
                             "--render-scale", "0.05")


@pytest.fixture
def wall(tmp_path: Path, ice_exb: Path) -> Iterator[Wall]:
    w = Wall(tmp_path, ice_exb.parent)
    w.start_all()
    try:
        yield w
    finally:
        w.procs.stop_all()


@pytest.fixture
def browser() -> Iterator[object]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless Chromium and chromedriver are needed (Debian: chromium, "
                    "chromium-driver; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1180", "--lang=en-GB", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _badges(driver: object) -> dict[str, str]:
    """Each node row's state, as the page shows it (the badge's data-state)."""
    rows = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.querySelectorAll('#node-table tbody tr[data-node]')]"
        ".map(tr => [tr.dataset.node, tr.querySelector('.badge').dataset.state]);")
    return dict(rows)


def _events(driver: object) -> str:
    return driver.execute_script("return JSON.stringify(window.__exhibit || {});")  # type: ignore[attr-defined]


def _text(driver: object, css: str) -> str:
    return driver.execute_script(  # type: ignore[attr-defined]
        "return document.querySelector(arguments[0]).textContent;", css)


def test_the_status_page_follows_the_show_and_its_buttons_drive_it(
        wall: Wall, browser: object, tmp_path: Path) -> None:
    driver = browser
    # The controller's first start imports, checks the bundles and binds the console.
    wait_until(lambda: _reachable(wall.url), START_S, "the console to answer")
    driver.get(wall.url)  # type: ignore[attr-defined]
    wait_until(lambda: all(_badges(driver).get(d) == "joined" for d in DISPLAYS), START_S,
               "both nodes shown joined")
    assert _text(driver, "#cue") == "castle"
    assert "live" in driver.find_element("id", "link").get_attribute("class")  # type: ignore[attr-defined]
    marker = driver.execute_script("return window.__loaded = performance.now();")  # type: ignore[attr-defined]

    driver.find_element("id", "go").click()  # type: ignore[attr-defined]
    wait_until(lambda: _text(driver, "#cue") == "lanterns", 10.0,
               "the next cue to arrive through the event stream")
    assert driver.execute_script("return window.__loaded;") == marker, \
        "the page was not reloaded"  # type: ignore[attr-defined]
    rows = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.querySelectorAll('#cue-table tbody tr')].map(r => r.className);")
    assert rows[1] == "current" and rows[2] == "next"
    wait_until(lambda: all(_badges(driver).get(d) == "joined" for d in DISPLAYS), 30.0,
               "both nodes joined after the cue change")
    # The health the nodes report reaches the table (fps over their last two seconds).
    wait_until(lambda: all(float(driver.execute_script(  # type: ignore[attr-defined]
        "return document.querySelector(`#node-table tr[data-node='${arguments[0]}']`)"
        ".children[7].textContent || '0';", d)) > 0 for d in DISPLAYS), 60.0,
        "each node's fps on the page")
    wait_until(lambda: all(driver.execute_script(  # type: ignore[attr-defined]
        "return document.querySelector(`#node-table tr[data-node='${arguments[0]}']`)"
        ".children[4].textContent;", d) == "lanterns" for d in DISPLAYS), 60.0,
        "each node to report the new cue")
    shot = tmp_path / "console.png"
    driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
    if os.environ.get("EXHIBIT_WRITE_DOCS_IMAGES") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "images" / "console.png")

    # A visitor picks an item in Russian (sent as a kiosk would, through the console's
    # API): the header says what the wall was asked to show, each node what it draws.
    for path, body in (("api/select", {"item": "lantern"}),
                       ("api/language", {"language": "ru"})):
        _post(wall.url + path, body)
    wait_until(lambda: (_text(driver, "#selected-item"), _text(driver, "#visitor-language"))
               == ("lantern", "ru"), 10.0, "the selection in the page's header")
    wait_until(lambda: all(driver.execute_script(  # type: ignore[attr-defined]
        "return document.querySelector(`#node-table tr[data-node='${arguments[0]}']`)"
        ".children[4].textContent;", d) == "lanterns · lantern (ru)" for d in DISPLAYS),
        30.0, "each node to report the item and language it draws")

    driver.find_element("id", "blackout").click()  # type: ignore[attr-defined]
    wait_until(lambda: "on" in driver.find_element("id", "blackout").get_attribute("class"),  # type: ignore[attr-defined]
               10.0, "blackout shown on")

    victim = wall.procs.procs[f"node-{DISPLAYS[0]}"]
    victim.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    victim.wait(timeout=10)
    wait_until(lambda: _badges(driver).get(DISPLAYS[0]) == "lost", 5.0,
               f"the killed node shown lost (the page shows {_badges(driver)}, "
               f"{_events(driver)})", interval=0.02)
    seen_after = time.monotonic() - killed
    assert seen_after < 1.0, f"the page showed the node lost {seen_after:.2f} s after the kill"
    assert _badges(driver).get(DISPLAYS[1]) == "joined"
    health = driver.execute_script(  # type: ignore[attr-defined]
        "return document.querySelector(`#wall-svg g[data-display='${arguments[0]}']`)"
        "?.dataset.health;", DISPLAYS[0])
    assert health == "lost"


def _post(url: str, body: dict[str, str]) -> None:
    import json
    import urllib.request

    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5.0) as res:
        assert res.status == 200, res.read()


def _reachable(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1.0) as res:
            return res.status == 200
    except (urllib.error.URLError, OSError):
        return False
