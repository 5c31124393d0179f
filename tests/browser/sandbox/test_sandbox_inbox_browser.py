"""The sandbox inbox in Debian's Chromium: a sent message appears live and its ticks advance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, watch_csp
from whatsapp_scheduler.sandbox import StandIn, StandInConfig, StatusDelays

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

#: Words of bubbles and log cells (up to 14 characters: any fits a phone's line) whose
#: letters are laid out on more than one line.
SPLIT_WORDS_JS = """() => {
  const split = [];
  for (const el of document.querySelectorAll(".bubble, .log td")) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        if (m[0].length > 14) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
        if (lines.size > 1) split.push(m[0]);
      }
    }
  }
  return split;
}"""


@needs_chromium
async def test_inbox_shows_a_message_arriving_with_live_ticks(status_watch) -> None:
    from playwright.async_api import async_playwright, expect

    standin = StandIn(
        StandInConfig(
            access_token="browser-token",
            status_delays=StatusDelays(sent=0.3, delivered=0.4, read=0.4),
        )
    )
    await standin.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1100, "height": 720})
            refused = watch_csp(page)
            first = await page.goto(standin.url + "/")
            assert first is not None
            assert "script-src 'self'" in first.headers["content-security-policy"]
            await expect(page.locator(".warning")).to_have_text(
                "Sandbox — nothing here reaches WhatsApp"
            )
            await expect(page.locator("#live")).to_have_text("live")
            await status_watch.start(page, ".tick", ".bubble", "wamid")

            async with aiohttp.ClientSession() as http:
                reply = await http.post(
                    f"{standin.url}/v23.0/{standin.config.phone_number_id}/messages",
                    headers={"Authorization": "Bearer browser-token"},
                    json={
                        "messaging_product": "whatsapp",
                        "to": "+16505551234",
                        "type": "text",
                        "text": {"body": "Your appointment is tomorrow at 10:00"},
                        "biz_opaque_callback_data": "job-browser",
                    },
                )
                wamid = (await reply.json())["messages"][0]["id"]

            bubble = page.locator(f'.bubble[data-wamid="{wamid}"]')
            await expect(bubble.locator(".text")).to_have_text(
                "Your appointment is tomorrow at 10:00"
            )
            tick = bubble.locator(".tick")
            await expect(tick).to_have_attribute("data-status", "read")
            # Each tick it showed on the way, in order: "sent" lasts 0.4 s, which a polling
            # expect caught only when the machine was quick enough.
            shown = await status_watch.seen(page, wamid)
            assert shown[-3:] == ["sent", "delivered", "read"], shown
            await expect(bubble.locator(".cb")).to_have_text("job-browser")
            await expect(page.locator("#request-log tr").first).to_contain_text("+16505551234")

            thread = page.locator('.thread[data-wa="16505551234"]')
            await thread.locator("input[name=text]").fill("Thanks, see you!")
            await thread.locator("form.reply button").click()
            await expect(thread.locator(".bubble.in .text")).to_have_text("Thanks, see you!")
            assert standin.mailbox.window_open("16505551234", standin.config.wall_clock(), 24)

            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "sandbox-inbox.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 800})
            await page.screenshot(path=str(ARTIFACTS / "sandbox-inbox-phone.png"))
            # On a phone no word that fits a line is split across two ("TE XT" was, beside a
            # long callback id), in the chat nor in the request log.
            async with aiohttp.ClientSession() as http:
                long_cb = "reminder-2026-12-03-batch-0042-of-0100-vip-customers-istanbul"
                second = await http.post(
                    f"{standin.url}/v23.0/{standin.config.phone_number_id}/messages",
                    headers={"Authorization": "Bearer browser-token"},
                    json={
                        "messaging_product": "whatsapp",
                        "to": "+16505551234",
                        "type": "text",
                        "text": {"body": "Kargonuz yola çıktı: TR-4821-XK"},
                        "biz_opaque_callback_data": long_cb,
                    },
                )
                assert second.status == 200
            await expect(page.locator(".bubble .cb", has_text=long_cb)).to_have_count(1)
            assert await page.evaluate(SPLIT_WORDS_JS) == []
            await page.locator('button[data-tab="requests"]').click()
            await expect(page.locator("#request-log tr").first).to_be_visible()
            assert await page.evaluate(SPLIT_WORDS_JS) == []
            await page.screenshot(path=str(ARTIFACTS / "sandbox-requests-phone.png"))
            assert refused == []  # the inbox works under its Content-Security-Policy
            await browser.close()
    finally:
        await standin.stop()


EVIL_PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="{target}/_sandbox/inbound" enctype="text/plain">
<input name='{{"from": "+16505550666", "text": "forged", "x": "' value='"}}'>
</form>
<script>
fetch("{target}/_sandbox/inbound", {{method: "POST", mode: "no-cors",
  body: JSON.stringify({{from: "+16505550667", text: "forged by fetch"}})}})
  .finally(() => {{ document.title = "fetched"; document.getElementById("f").submit(); }});
</script></body></html>"""


@needs_chromium
async def test_a_page_on_another_site_cannot_forge_an_inbound_message() -> None:
    """Chromium loads a page from another origin that POSTs to the control API (a form, and a
    no-cors fetch, neither of which needs a CORS preflight): the stand-in refuses both."""
    from aiohttp import web
    from playwright.async_api import async_playwright

    standin = StandIn(StandInConfig())
    await standin.start()
    refused: list[int] = []

    async def evil(_request: web.Request) -> web.Response:
        return web.Response(text=EVIL_PAGE.format(target=standin.url), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "localhost", 0).start()  # localhost: another site than 127.0.0.1
    evil_url = f"http://localhost:{runner.addresses[0][1]}/"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page()

            def on_response(response: Any) -> None:
                if "/_sandbox/inbound" in response.url:
                    refused.append(response.status)

            page.on("response", on_response)
            async with page.expect_navigation(url=f"{standin.url}/_sandbox/inbound"):
                await page.goto(evil_url)
            await browser.close()
    finally:
        await runner.cleanup()
        try:
            assert standin.conversations == {}  # nothing was forged
        finally:
            await standin.stop()
    assert refused
    assert set(refused) == {403}


@needs_chromium
async def test_an_interactive_and_a_document_arriving_live_show_buttons_and_a_link() -> None:
    """The live path (inbox.js) renders what the server's macro renders: the buttons as text,
    the document's name as an http(s) link; a `javascript:` URL button makes no link."""
    from playwright.async_api import async_playwright, expect

    standin = StandIn(StandInConfig(access_token="browser-token"))
    await standin.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 390, "height": 800})
            refused = watch_csp(page)
            await page.goto(standin.url + "/")
            await expect(page.locator("#live")).to_have_text("live")
            bodies = [
                {"type": "interactive", "interactive": {
                    "type": "button", "body": {"text": "Gelecek misiniz?"},
                    "action": {"buttons": [
                        {"type": "reply", "reply": {"id": "y", "title": "Evet"}},
                        {"type": "reply", "reply": {"id": "n", "title": "<b>Hayır</b>"}}]}}},
                {"type": "document", "document": {
                    "link": "https://cdn.example.com/fatura.pdf", "filename": "fatura.pdf"}},
                {"type": "interactive", "interactive": {
                    "type": "cta_url", "body": {"text": "Fatura"},
                    "action": {"name": "cta_url", "parameters": {
                        "display_text": "Aç", "url": "javascript:alert(1)"}}}},
            ]  # fmt: skip
            # The stand-in refuses the javascript: URL button (131009), as Meta does, so it
            # never reaches the page (the inbox's own link guard: test_sandbox_validation.py).
            wamids = []
            async with aiohttp.ClientSession() as http:
                for body in bodies:
                    reply = await http.post(
                        f"{standin.url}/v23.0/{standin.config.phone_number_id}/messages",
                        headers={"Authorization": "Bearer browser-token"},
                        json={"messaging_product": "whatsapp", "to": "+16505551234", **body},
                    )
                    answer = await reply.json()
                    if body is bodies[2]:
                        assert answer["error"]["code"] == 131009
                        continue
                    wamids.append(answer["messages"][0]["id"])
            buttons = page.locator(f'.bubble[data-wamid="{wamids[0]}"] .att-buttons li')
            await expect(buttons).to_have_text(["Evet", "<b>Hayır</b>"])
            link = page.locator(f'.bubble[data-wamid="{wamids[1]}"] a.att-link')
            await expect(link).to_have_text("fatura.pdf")
            await expect(link).to_have_attribute("href", "https://cdn.example.com/fatura.pdf")
            assert await page.locator(".bubble").count() == 2
            # Pressing a button is the user's interactive reply, shown as their message.
            await page.locator(f'.bubble[data-wamid="{wamids[0]}"] button.att-press').first.click()
            await expect(page.locator(".bubble.in .text")).to_have_text("Evet")
            (inbound,) = [m for m in standin.messages_to("16505551234") if m.direction == "in"]
            assert inbound.type == "interactive"
            assert refused == []
            await browser.close()
    finally:
        await standin.stop()


@needs_chromium
async def test_uploaded_images_show_in_place_live_and_on_reload() -> None:
    """An image uploaded to the stand-in and sent by its id is shown inline (our own origin:
    the CSP allows it), live and after a reload; the browser fetches its bytes; a document by
    id stays a link to the upload."""
    from playwright.async_api import async_playwright, expect

    from tests import media_files

    standin = StandIn(StandInConfig(access_token="browser-token"))
    await standin.start()
    number = standin.config.phone_number_id
    try:
        async with aiohttp.ClientSession() as http:

            async def upload(data: bytes, mime: str) -> str:
                form = aiohttp.FormData()
                form.add_field("messaging_product", "whatsapp")
                form.add_field("file", data, content_type=mime, filename="f")
                reply = await http.post(
                    f"{standin.url}/v23.0/{number}/media",
                    headers={"Authorization": "Bearer browser-token"},
                    data=form,
                )
                return str((await reply.json())["id"])

            async def send(body: dict[str, object]) -> str:
                reply = await http.post(
                    f"{standin.url}/v23.0/{number}/messages",
                    headers={"Authorization": "Bearer browser-token"},
                    json={"messaging_product": "whatsapp", "to": "+16505551234", **body},
                )
                return str((await reply.json())["messages"][0]["id"])

            image = await upload(media_files.png(), "image/png")
            pdf = await upload(media_files.pdf(), "application/pdf")
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 390, "height": 800})
                refused = watch_csp(page)
                await page.goto(standin.url + "/")
                await expect(page.locator("#live")).to_have_text("live")
                async with page.expect_response(f"**/_sandbox/media/{image}") as fetched:
                    live = await send({"type": "image", "image": {"id": image, "caption": "c"}})
                assert (await fetched.value).status == 200
                shown = page.locator(f'.bubble[data-wamid="{live}"] img.att-inline')
                await expect(shown).to_have_attribute("src", f"/_sandbox/media/{image}")
                doc = await send({"type": "document", "document": {"id": pdf, "filename": "f.pdf"}})
                link = page.locator(f'.bubble[data-wamid="{doc}"] a.att-link')
                await expect(link).to_have_attribute("href", f"/_sandbox/media/{pdf}")
                assert await page.locator(f'.bubble[data-wamid="{doc}"] .att-inline').count() == 0
                await page.reload()
                again = page.locator(f'.bubble[data-wamid="{live}"] img.att-inline')
                await expect(again).to_have_attribute("src", f"/_sandbox/media/{image}")
                assert refused == []
                await browser.close()
    finally:
        await standin.stop()
