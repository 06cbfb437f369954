"""On the built site, every static slider works without a kernel: moving a slider shows the frame
computed at build time for the chosen values, with no console error and no request outside
127.0.0.1."""
from __future__ import annotations

import pytest

from browser import PageWatch, chromium, serve

pytestmark = [pytest.mark.browser, pytest.mark.book]

# Read each block's state in the page: the sliders' labels, the shown frame and its image data.
READ_BLOCK = """(block) => {
  const sliders = [...block.querySelectorAll('input.snnbook-explore-slider')];
  const shown = block.querySelector('img.snnbook-explore-image');
  const expected = sliders.map(s => {
    const labels = JSON.parse(s.dataset.labels);
    const index = Math.round((Number(s.value) - Number(s.min)) / Number(s.step));
    return s.dataset.param + '=' + labels[index];
  }).join('|');
  const frame = block.querySelector(`img.snnbook-explore-frame[data-frame="${CSS.escape(expected)}"]`);
  return {expected, shown: shown.dataset.frame, same_image: !!frame && frame.src === shown.src,
          params: sliders.map(s => s.dataset.param)};
}"""

SET_SLIDER = """([block, param, position]) => {
  const s = block.querySelector(`input.snnbook-explore-slider[data-param="${param}"]`);
  const n = Math.round((Number(s.max) - Number(s.min)) / Number(s.step));
  const index = position === 'last' ? n : position === 'first' ? 0 : Math.floor(n / 2);
  s.value = String(Number(s.min) + index * Number(s.step));
  s.dispatchEvent(new Event('input', {bubbles: true}));
}"""


def pages_with_sliders(html):
    return sorted(p for p in html.glob("book/*.html") if 'class="snnbook-explore"' in p.read_text())


def test_every_static_slider_switches_to_its_precomputed_frame(built_book):
    pages = pages_with_sliders(built_book)
    assert pages, "no page of the built site has a static slider"
    problems, moves = [], 0
    with serve(built_book) as base, chromium() as browser:
        for path in pages:
            rel = path.relative_to(built_book).as_posix()
            page = browser.new_page()
            watch = PageWatch(page)
            page.goto(f"{base}/{rel}", wait_until="load")
            blocks = page.locator("div.snnbook-explore")
            for b in range(blocks.count()):
                block = blocks.nth(b).element_handle()
                state = page.evaluate(READ_BLOCK, block)
                if state["shown"] != state["expected"] or not state["same_image"]:
                    problems.append(f"{rel} block {b}: initial frame {state}")
                for param in state["params"]:
                    for position in ("last", "middle", "first"):
                        page.evaluate(SET_SLIDER, [block, param, position])
                        state = page.evaluate(READ_BLOCK, block)
                        moves += 1
                        if state["shown"] != state["expected"] or not state["same_image"]:
                            problems.append(f"{rel} block {b} {param}->{position}: {state}")
            if watch.console_errors:
                problems.append(f"{rel}: console errors {watch.console_errors}")
            if watch.external_requests:
                problems.append(f"{rel}: external requests {watch.external_requests}")
            page.close()
    assert moves > 0
    assert not problems, "\n".join(problems)
