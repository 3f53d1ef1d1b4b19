"""report.html in a real browser: Debian's Chromium, headless, shows every figure and every table.

Marked ``browser`` (``make test-html`` installs Chromium and runs it; ``make test`` leaves it out).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from pruning_lab.analysis.load import read_results
from pruning_lab.analysis.sections import report

from .test_aggregate import configs, ev, result, write  # noqa: F401  (configs: a fixture)

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# appended to a copy of the page: what the browser made of it, after every image has loaded
PROBE = """<script>
window.addEventListener('load', () => {
  const images = [...document.images].map(i => ({alt: i.alt.slice(0, 40), complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight, shown: i.getBoundingClientRect().width}));
  const tables = [...document.querySelectorAll('table')].map(t => ({id: t.id,
    rows: t.tBodies.length ? t.tBodies[0].rows.length : 0, columns: t.tHead ? t.tHead.rows[0].cells.length : 0,
    text: t.innerText, height: t.getBoundingClientRect().height}));
  const probe = document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = JSON.stringify({images, tables});
  document.body.appendChild(probe);
});
</script>"""


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: `make test-html` installs it (as root)")
    return path


def browse(page, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"   # a fresh profile: nothing from an earlier run
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def saved(configs, tmp_path_factory):  # noqa: F811
    """A paper-2-shaped sweep (3 seeds, the three treatments, 3 cycles, off drug) and its saved report."""
    tmp = tmp_path_factory.mktemp("html")
    for seed in range(3):
        for t in ("ketamine", "ssri", "neurosteroid"):
            write(tmp / "sweep" / f"{t}_s{seed}" / "result.json",
                  result(configs, seed, t, treated=ev(90.0 + seed), course=[97.0 - 3 * c * seed for c in range(4)],
                         off=ev(60.0 + seed) if t == "neurosteroid" else None))
    rep = report(read_results(tmp / "sweep"))
    rep.save(tmp / "out")
    return rep, tmp / "out"


def test_the_page_shows_every_figure_and_every_table(saved, tmp_path):
    rep, out = saved
    page = out / "report.html"
    text = page.read_text()
    assert "src=\"figures/" not in text and "<img" in text     # self-contained: nothing to fetch
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("</body>", PROBE + "</body>"))
    proc = browse(probed, tmp_path, "--virtual-time-budget=10000", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    seen = json.loads(html.unescape(found.group(1)))

    # every figure decoded at the size it was embedded at (150 dpi) and laid out on the page
    assert len(seen["images"]) == len(rep.figures) >= 4
    for img, fig in zip(seen["images"], rep.figures.values()):
        assert img["complete"] and img["shown"] > 100, img
        assert img["width"] == round(fig.get_figwidth() * 150), img
        assert img["height"] == round(fig.get_figheight() * 150), img

    # every named table, with its header and every row, and readable numbers
    tables = {t["id"]: t for t in seen["tables"] if t["id"]}
    for name, df in rep.tables.items():
        t = tables[f"table-{name}"]
        assert (t["rows"], t["columns"]) == df.shape and t["height"] > 0, name
    efficacy = tables["table-efficacy"]["text"]
    assert "Ketamine-like" in efficacy and "91.0 ± 1.0" in efficacy   # 90, 91, 92: mean ± sample SD
    assert "<strong>" not in efficacy and "**" not in tables["table-efficacy"]["text"]


def test_the_screenshot_shows_the_figures(saved, tmp_path):
    """The figures as painted: the page with its figures alone (the text hidden), the ketamine-like
    arm's blue in its curves, so an image that did not decode would leave no blue."""
    _, out = saved
    page = tmp_path / "figures_only.html"
    hide = "<style>.pruning-lab-report > :not(figure) { display: none; }</style>"
    page.write_text((out / "report.html").read_text().replace("</head>", hide + "</head>"))
    shot = tmp_path / "page.png"
    proc = browse(page, tmp_path, "--window-size=1200,4000", "--hide-scrollbars", f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    # the Okabe-Ito blue of the ketamine-like arm (0, 114, 178)
    blue = np.all(np.abs(pixels - np.array([0, 114, 178]) / 255) < 0.04, axis=-1)
    assert blue.sum() > 500
    # and nothing of it when the images are taken out: the blue is the figures'
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', page.read_text()))
    shot2 = tmp_path / "bare.png"
    browse(bare, tmp_path, "--window-size=1200,4000", "--hide-scrollbars", f"--screenshot={shot2}")
    pixels = matplotlib.image.imread(shot2)[..., :3]
    assert np.all(np.abs(pixels - np.array([0, 114, 178]) / 255) < 0.04, axis=-1).sum() == 0


WIDTH_PROBE = """<script>
window.addEventListener('load', () => {
  const boxes = [...document.querySelectorAll('table')].map(t => {
    const box = t.parentElement.getBoundingClientRect();
    return {id: t.id, right: box.right, table: t.getBoundingClientRect().width, box: box.width,
            scrolls: getComputedStyle(t.parentElement).overflowX};
  });
  const probe = document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = JSON.stringify({page: document.documentElement.scrollWidth, view: window.innerWidth, boxes});
  document.body.appendChild(probe);
});
</script>"""


def test_wide_tables_scroll_in_their_own_box_at_1200_px(saved, tmp_path):
    """The page never scrolls sideways at 1200 px: a table wider than the page scrolls inside its
    own box, and a long path the text quotes (the results' folder) wraps."""
    _, out = saved
    deep = tmp_path / ("results" * 30) / ("sweep" * 40)
    deep.parent.mkdir()
    deep.symlink_to(out.parent / "sweep")
    report(read_results(deep), figures=False).save(tmp_path / "out")
    page = tmp_path / "width.html"
    page.write_text((tmp_path / "out" / "report.html").read_text().replace("</body>", WIDTH_PROBE + "</body>"))
    proc = browse(page, tmp_path, "--window-size=1200,3000", "--virtual-time-budget=10000", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S).group(1)))
    assert seen["page"] <= seen["view"], seen["page"]
    wide = [b for b in seen["boxes"] if b["table"] > b["box"] + 1]
    assert wide, "no table wider than the page: the test shows nothing"   # the pairwise table is
    for b in seen["boxes"]:
        assert b["right"] <= seen["view"] + 0.5, b
    for b in wide:
        assert b["scrolls"] in ("auto", "scroll"), b
