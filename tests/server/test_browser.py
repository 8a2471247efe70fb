"""The chat page in headless Chromium against the live server and the real agent."""

from __future__ import annotations

import shutil

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ANSWER_TIMEOUT = 180_000


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live):
    """A fresh page that already knows the API key, failing the test on any page error."""
    context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
    context.add_init_script(f"localStorage.setItem('corecover.apiKey', {live.key!r})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


def ask(page, question: str) -> object:
    """Type a question, send it, wait until the answer is finished; return the answer's box."""
    count = page.locator(".msg.assistant").count()
    page.fill("#question", question)
    page.keyboard.press("Enter")
    box = page.locator(".msg.assistant").nth(count)
    box.locator(".answer:not(.streaming)").wait_for(timeout=ANSWER_TIMEOUT)
    return box


def test_math_then_knowledge_question(page, live, artifacts):
    page.goto(live["main"])
    page.screenshot(path=artifacts / "chat-empty.png")
    math = ask(page, "What is 17 * 23?")
    assert math.locator('[data-testid="route-badge"]').inner_text() == "Reasoner"
    assert math.locator(".answer").inner_text().strip()
    assert page.locator("#error").is_hidden()
    # a formal question: the exact check gives 391 whatever the model wrote, and the badge says so
    status = math.locator('[data-testid="status-badge"]')
    assert status.inner_text() == "Verified" and status.get_attribute("data-status") == "verified"
    assert status.get_attribute("title").startswith("Verified: an exact check")
    assert "391" in math.locator(".final").inner_text()

    fact = ask(page, "Who painted the Mona Lisa?")
    assert fact.locator('[data-testid="route-badge"]').inner_text() == "Knowledge"
    status = fact.locator('[data-testid="status-badge"]')
    assert status.inner_text() in ("Grounded", "Not covered")  # never an unchecked label on a knowledge answer
    if status.inner_text() == "Grounded":
        assert fact.locator(".final").inner_text().strip()
    assert fact.locator(".answer").inner_text().strip()
    citation = fact.locator(".citation").first
    assert citation.is_visible()
    page.screenshot(path=artifacts / "chat-desktop.png", full_page=True)

    citation.click()
    dialog = page.locator("#passage")
    assert dialog.is_visible() and dialog.locator("#passage-text").inner_text().strip()
    page.screenshot(path=artifacts / "chat-passage.png")
    page.locator("#passage-close").click()

    # the thread is in the history list and reloads from the server
    thread = page.evaluate("location.hash")
    assert thread.startswith("#t=")
    page.reload()
    page.locator(".msg.user").nth(1).wait_for()
    assert page.locator(".msg.user").all_inner_texts() == ["What is 17 * 23?", "Who painted the Mona Lisa?"]
    assert page.locator("#threads button.active").count() == 1

    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "chat-phone.png", full_page=True)
    page.click("#menu")
    page.screenshot(path=artifacts / "chat-phone-history.png")


SAMPLE = "So $$\\frac{a}{b} = 2$$ and $x_1 + x_2$, hence \\boxed{4}. <img src=x onerror=alert(1)> **done** [1]"


def test_answers_render_math_with_katex_and_fall_back_without_it(page, live, artifacts):
    from agent.assets import katex_ready

    page.goto(live["main"])
    html = page.evaluate("(text) => markdown(text)", SAMPLE)
    assert "<img" not in html and "&lt;img" in html          # model and passage text is data, never HTML
    assert "<strong>done</strong>" in html and 'class="cite"' in html
    if katex_ready():
        assert page.locator("#notice").is_hidden()
        assert html.count('class="katex-display"') == 1 and html.count('class="katex"') == 3
    else:
        assert page.locator("#notice").is_visible()

    # without the vendor folder the page still answers, shows LaTeX source and a notice
    page.route("**/static/vendor/**", lambda route: route.fulfill(status=404, body="missing"))
    page.goto(live["main"])
    assert page.locator("#notice").is_visible()
    html = page.evaluate("(text) => markdown(text)", SAMPLE)
    assert "katex" not in html and "<code>$x_1 + x_2$</code>" in html
    box = ask(page, "What is 5 + 6?")
    assert box.locator('[data-testid="route-badge"]').inner_text() == "Reasoner"
    page.screenshot(path=artifacts / "chat-no-katex.png")


def test_missing_key_and_dead_backend_show_the_banner(browser, live, artifacts):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(live["main"])          # no API key stored: the history call is refused
    page.locator("#key-form").wait_for()
    assert "API key" in page.locator("#error").inner_text()

    page.goto(live["dead"])          # a server whose reasoner is down
    page.fill("#question", "What is 6 * 7?")
    page.keyboard.press("Enter")
    page.locator("#error").wait_for(timeout=ANSWER_TIMEOUT)
    assert "backend" in page.locator("#error-text").inner_text()
    page.screenshot(path=artifacts / "chat-backend-down.png")
    context.close()


def test_each_user_sees_only_their_threads_on_the_page(browser, live, artifacts):
    context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def sign_in(user: str) -> None:
        page.fill("#key-input", live.user_keys[user])
        page.locator("#key-form button[type=submit]").click()
        page.wait_for_function("(name) => document.getElementById('who-name').textContent === name", arg=user)

    page.goto(live["users"])
    page.locator("#key-form").wait_for()              # no key yet: the page asks for one
    sign_in("alice")
    box = ask(page, "What is 8 + 1?")
    assert box.locator(".answer").inner_text().strip()
    thread = page.evaluate("location.hash").removeprefix("#t=")
    page.locator(f'#threads button[data-thread="{thread}"]').wait_for()
    page.screenshot(path=artifacts / "chat-user-alice.png")

    page.click("#switch-key")                          # another user on the same page
    sign_in("bob")
    assert page.locator(".msg.user").count() == 0      # alice's conversation is gone from view
    page.wait_for_function("() => !document.querySelector('#threads button.active')")
    assert page.locator(f'#threads button[data-thread="{thread}"]').count() == 0
    page.goto(f"{live['users']}/?as=bob#t={thread}")   # and her thread's link is a "no thread" for bob
    page.locator("#error").wait_for()
    assert "no thread" in page.locator("#error-text").inner_text()
    page.screenshot(path=artifacts / "chat-user-bob.png")
    context.close()
    assert not errors, errors
