"""The built site in a real browser: Chapter 1 in headless Chromium (Debian's), served on loopback.

Needs the site built first (`make test` builds it; `make book` alone does too).
"""
import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHAPTER = "book/ch01_cidr.html"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_url():
    if not (HTML / CHAPTER).exists():
        pytest.fail(f"{HTML / CHAPTER} is missing: build the site first with `make book`")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                "--window-size=1280,2000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


def test_chapter1_renders_tables_and_live_widget(site_url, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site_url}/{CHAPTER}")
    # The seed's three results, as the page's static text.
    body = browser.find_element(By.TAG_NAME, "body").text
    for value in ("10.233.64.0", "255.255.192.0", "0.0.63.255", "10.233.127.255",
                  "00001010.11101001.01111111.11111111"):
        assert value in body, f"{value} is not on the page"

    # The saved calculator widget is rendered by the widget manager (an <input> holding the CIDR),
    # not left as its text fallback.
    def rendered_input(driver):
        for element in driver.find_elements(By.CSS_SELECTOR, ".jupyter-widgets input[type=text]"):
            if element.get_attribute("value") == "10.233.64.0/18":
                return element
        return False

    field = WebDriverWait(browser, 20).until(rendered_input)
    assert field.is_displayed()
    widget_html = browser.find_elements(By.CSS_SELECTOR, ".jupyter-widgets.widget-html")
    assert any("10.233.127.255" in w.text for w in widget_html), "the calculator's table is not rendered"

    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", field)
    browser.save_screenshot(str(shots / "ch01_cidr.png"))

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_search_page_exists(site_url, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{site_url}/search.html?q=broadcast")
    assert browser.find_elements(By.CSS_SELECTOR, "form, input[type=search], input[name=q]")


@pytest.mark.parametrize("page", sorted([f"book/{p.stem}.html" for p in (ROOT / "book").glob("*.ipynb")]
                                        + [f"student/{p.stem}.html" for p in (ROOT / "labs").glob("*.ipynb")]))
def test_every_notebook_page_loads_without_errors_and_renders_its_widgets(site_url, browser, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site_url}/{page}")
    saved = browser.find_elements(By.CSS_SELECTOR, "script[type='application/vnd.jupyter.widget-view+json']")
    if saved:  # the widget manager replaces each saved view with live controls
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jupyter-widgets"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"{page}: {errors}"
