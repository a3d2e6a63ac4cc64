"""Browser tests of the web console (issue 19): a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by ``make browser``) driven by Selenium against the session twin's
``/app/``. Without Chromium they skip, except under ``CI=true``, where that is a failure.

- ``browser``: one Chromium for the session; ``console(...)`` signs in as a person of a tenant
  file through the twin's picker, at a viewport size, and returns a ``Page``;
- ``Page.shot(name)`` saves ``.build/screenshots/<name>.png`` (looked at by people, not compared);
- ``Page.wait_for(css)`` waits for an element (the app renders asynchronously).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.twin.twin import LocalTwin

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / ".build" / "screenshots"
PHONE = (360, 740)
DESK = (1280, 900)


def _binaries() -> tuple[str, str] | None:
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    found = _binaries()
    if found is None:
        message = "no chromium and chromedriver on PATH: `make browser` installs them (as root, with apt-get)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN"):
        options.add_argument(flag)
    options.binary_location = found[0]
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@dataclass
class Page:
    driver: Any
    base: str

    def wait_for(self, css: str, timeout: float = 15.0, *, text: str | None = None) -> Any:
        """The first element matching ``css`` (whose text contains ``text``), waited for."""
        from selenium.webdriver.common.by import By

        deadline = time.monotonic() + timeout
        while True:
            found = [
                e
                for e in self.driver.find_elements(By.CSS_SELECTOR, css)
                if text is None or text in (e.text or "")
            ]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                body = self.driver.execute_script("return document.body.innerText")[:1500]
                raise AssertionError(
                    f"no {css!r}{f' with {text!r}' if text else ''} within {timeout}s; page:\n{body}"
                )
            time.sleep(0.05)

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def go(self, hash_: str) -> None:
        self.driver.execute_script("location.hash = arguments[0]", hash_)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def errors(self) -> list[str]:
        """The browser console's errors since the last call (404s of favicons aside)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
        ]


@pytest.fixture
def console(browser: Any, twin: LocalTwin) -> Callable[..., Page]:
    """``console(tenant, person, size=PHONE)``: signed in through the twin's picker, at ``#/``."""

    def open_as(tenant: str, person: str, size: tuple[int, int] = DESK) -> Page:
        browser.set_window_size(*size)
        page = Page(browser, f"{twin.url}/app/")
        browser.get(page.base)
        browser.execute_script("sessionStorage.clear(); localStorage.setItem('scrm.lang', 'zh-CN');")
        browser.get(page.base + "#/signin")
        browser.refresh()  # a new document: the old session is gone from memory too
        page.wait_for(f'button[data-tenant="{tenant}"][data-person="{person}"]').click()
        page.wait_for(f'[data-user="{person}"]')
        return page

    return open_as
