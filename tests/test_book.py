"""The book machinery: config, notebook pairs, parameters, `python -m drnlib.book`, the rendered HTML (offline,
checked in headless Chromium), papermill on a page, and JupyterLab opening book/*.py as notebooks.

The build runs on a copy of the book in a temporary folder, so the tests never touch _build/ or results/ here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml
from PIL import Image

from drnlib import book, params
from drnlib.errors import ParameterError
from drnlib.provenance import PROFILES, ROOT_ENV

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def copy_book(dest: Path) -> Path:
    """The files a book build reads: config, table of contents, pages and parameters."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO / name, dest / name)
    for folder in ("book", "params", "_static"):  # _static: the book's CSS
        shutil.copytree(REPO / folder, dest / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != ROOT_ENV}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def run_book(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drnlib.book", "--root", str(root), *args], cwd=root,
                          capture_output=True, text=True, env=clean_env(), timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = copy_book(tmp_path_factory.mktemp("book"))
    done = run_book(root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root, done


# Configuration and sources (no execution).


def test_config_excludes_build_and_code_folders_and_serves_math_locally():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True
    assert {".venv", "tests", "drnlib", "params", "_build"} <= set(config["exclude_patterns"])
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    command = book.jupyter_book_command(Path("stage"), Path("root"))
    assert "-W" in command and "--keep-going" in command  # warnings fail the build


def test_toc_has_parts_and_every_notebook_has_valid_params_for_every_profile():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    assert toc["format"] == "jb-book" and [p["caption"] for p in toc["parts"]][:2] == ["Introduction", "Dilated Residual Networks"]
    pages = book.toc_pages(REPO)
    notebooks = [p for p in pages if p.is_notebook]
    assert "fig4" in [p.name for p in notebooks]
    for page in notebooks:
        for profile in PROFILES:
            params = book.page_params(REPO, profile, page)
            assert params["profile"] == profile


def test_every_notebook_pair_is_in_sync_with_a_kernelspec_and_no_outputs():
    pairs = sorted((REPO / "book").glob("*.py"))
    assert pairs, "no notebooks in book/"
    for py in pairs:
        assert book.pair_problems(py) == []
        assert nbformat.read(py.with_suffix(".ipynb"), as_version=4).metadata["kernelspec"]["name"] == "python3"
    for ipynb in (REPO / "book").glob("*.ipynb"):
        assert ipynb.with_suffix(".py").is_file(), f"{ipynb} has no paired .py"


def test_a_pair_out_of_sync_is_reported(tmp_path):
    root = copy_book(tmp_path)
    py = root / "book" / "fig4.py"
    ipynb = nbformat.read(py.with_suffix(".ipynb"), as_version=4)
    ipynb.cells[1].metadata.update(scrolled=True, editable=False)  # what JupyterLab may add: noise
    nbformat.write(ipynb, py.with_suffix(".ipynb"))
    assert book.pair_problems(py) == []
    py.write_text(py.read_text() + "\n# %%\nprint('new cell')\n")
    problems = book.pair_problems(py)
    assert problems and "jupytext --sync" in problems[0]
    done = run_book(root, "--only", "fig4")
    assert done.returncode == 2 and "jupytext --sync" in done.stderr


def _notebook_with_parameters(path: Path, source: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_parameter_cells_must_be_typed_and_readable_by_papermill(tmp_path):
    good = _notebook_with_parameters(tmp_path / "good.ipynb", 'arch: str = "drn_c_26"  # architecture\nsize: int = 8')
    assert params.notebook_parameters(good) == {"arch": {"type": "str", "default": "drn_c_26"},
                                                "size": {"type": "int", "default": 8}}
    untyped = _notebook_with_parameters(tmp_path / "untyped.ipynb", "size = 8")
    with pytest.raises(ParameterError, match="typed defaults only"):
        params.notebook_parameters(untyped)
    unreadable = _notebook_with_parameters(tmp_path / "eq.ipynb", 'size: int = 8  # side (8 = small)')
    with pytest.raises(ParameterError, match="papermill cannot read the parameter line of size"):
        params.notebook_parameters(unreadable)
    typeless = _notebook_with_parameters(tmp_path / "dict.ipynb", "options: dict = {}")
    with pytest.raises(ParameterError, match="declared 'dict'; use one of bool, int, float, str, list"):
        params.notebook_parameters(typeless)
    with pytest.raises(ParameterError, match=r"test: good parameter size='eight': expected an int"):
        params.check_against_declared(good, {"size": "eight"}, "test")
    with pytest.raises(ParameterError, match=r"test: good parameter size=True: expected an int"):
        params.check_against_declared(good, {"size": True}, "test")


def test_the_book_command_refuses_unknown_parameters_before_running_anything(tmp_path):
    root = copy_book(tmp_path)
    (root / "params" / "smoke" / "fig4.yaml").write_text("profile: smoke\ndilaton: 4\n")
    done = run_book(root)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: params/smoke/fig4.yaml: fig4 has no parameter 'dilaton'; did you mean 'dilation'? it has "
        + ", ".join(params.notebook_parameters(root / "book" / "fig4.ipynb"))
    )
    assert not (root / "_build").exists()
    (root / "params" / "smoke" / "fig4.yaml").write_text("profile: mini\n")
    with pytest.raises(ParameterError, match="sets profile 'mini', but the book is built at 'smoke'"):
        book.page_params(root, "smoke", next(p for p in book.toc_pages(root) if p.name == "fig4"))
    with pytest.raises(ParameterError, match="--only fig44: no such notebook in _toc.yml; did you mean fig4"):
        book.build(root, "smoke", only=["fig44"])
    (root / "params" / "mini" / "fig4.yaml").unlink()
    with pytest.raises(ParameterError, match="missing params/mini/fig4.yaml"):
        book.build(root, "mini")


def test_a_failing_notebook_fails_the_build_naming_it_and_its_traceback(tmp_path):
    root = copy_book(tmp_path)
    # a file that exists (the path rule passes before anything runs) but holds no weights: fig4 fails as it loads it
    (root / "params" / "smoke" / "fig4.yaml").write_text("profile: smoke\ncheckpoint_resnet18: _toc.yml\n")
    done = run_book(root, "--only", "fig4")
    assert done.returncode == 1
    executed = root / "_build" / "executed" / "smoke" / "fig4.ipynb"
    error_line = done.stderr.strip()
    assert "\n" not in error_line
    assert error_line.startswith("error: fig4 failed in cell ")
    assert "CheckpointError" in error_line and "_toc.yml" in error_line
    assert str(executed.relative_to(root)) in error_line
    outputs = [o for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "error" and o.get("ename") == "CheckpointError" for o in outputs)
    assert not (root / "_build" / "html" / "index.html").exists()


def test_a_page_rule_is_checked_with_the_params_file_before_any_page_runs(tmp_path):
    root = copy_book(tmp_path)
    (root / "params" / "smoke" / "fig4.yaml").write_text("profile: smoke\ndilation: 1\n")
    done = run_book(root)
    assert done.returncode == 2 and not (root / "_build").exists()
    assert done.stderr.strip() == ("error: params/smoke/fig4.yaml: fig4 parameter dilation=1: must be between 2 "
                                   "and 16")


# The full build (smoke profile) and its HTML.


def test_the_book_command_runs_every_notebook_and_renders_html(built):
    root, done = built
    assert (root / "_build" / "html" / "index.html").is_file()
    assert (root / "_build" / "html" / "book" / "fig4.html").is_file()
    pages = [page.name for page in book.toc_pages(REPO) if page.is_notebook]
    # pages that gather the others' results (the claims overview) run after them, wherever the toc shows them
    pages = [n for n in pages if n not in book.AGGREGATE_PAGES] + [n for n in pages if n in book.AGGREGATE_PAGES]
    for i, name in enumerate(pages, start=1):  # every page of the table of contents ran, with its time
        assert re.search(rf"^\[{i}/{len(pages)}\] {name} \.\.\. ok \(\d+\.\d s\)$", done.stdout, re.M), done.stdout
    assert "rendering HTML (execution off) ... ok" in done.stdout
    executed = nbformat.read(root / "_build" / "executed" / "smoke" / "fig4.ipynb", as_version=4)
    assert any(o.get("data", {}).get("image/png") for c in executed.cells for o in c.get("outputs", []))
    stored = json.loads((root / "results" / "smoke" / "fig4.json").read_text())
    assert stored["profile"] == "smoke" and stored["provenance"]["torch"]
    assert stored["values"]["validation"]["pure_grid_share"] == pytest.approx(1.0)
    assert set(stored["values"]["index"]) == {"resnet18", "drn_a_18", "drn_b_26", "drn_c_26"}
    # prose pulls the numbers in with glue: the rendered text holds the stored value, formatted
    html = (root / "_build" / "html" / "book" / "fig4.html").read_text()
    assert f'{stored["values"]["validation"]["white_noise_share"]:.4f}' in html
    # --no-execute re-renders from the executed notebooks without running them
    again = run_book(root, "--no-execute")
    assert again.returncode == 0 and "0 notebook(s) to run" in again.stdout and "note:" not in again.stdout


class _ExternalResources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.external = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        url = attrs.get("src") if tag in ("script", "img", "iframe") else attrs.get("href") if tag == "link" else None
        if url and re.match(r"^(https?:)?//", url):
            self.external.append(f"<{tag}> {url}")


def test_the_html_loads_nothing_from_the_network(built):
    root, _ = built
    html_dir = root / "_build" / "html"
    pages = list(html_dir.rglob("*.html"))
    assert len(pages) >= 4
    for page in pages:
        parser = _ExternalResources()
        parser.feed(page.read_text())
        assert parser.external == [], f"{page.relative_to(html_dir)} loads {parser.external}"
    fig4 = (html_dir / "book" / "fig4.html").read_text()
    assert "_static/mathjax/tex-chtml.js" in fig4 and (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()


PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const number = /^-?[0-9.]+(e[-+]?[0-9]+)?$/;
  const images = [...document.querySelectorAll("article img")].map(img => {
    const box = img.getBoundingClientRect();
    return {complete: img.complete, natural: [img.naturalWidth, img.naturalHeight], shown: [box.width, box.height],
            at: [box.left + window.scrollX, box.top + window.scrollY]};
  });
  const tables = [...document.querySelectorAll("article table")].map(table => ({
    height: table.getBoundingClientRect().height,
    numericRows: [...table.querySelectorAll("tbody tr")].filter(
      tr => [...tr.querySelectorAll("td")].some(td => number.test(td.textContent.trim()))).length}));
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({images, tables, math: document.querySelectorAll("mjx-container").length});
  document.body.appendChild(probe);
}, 500));
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run .ci/run, or apt-get install -y chromium")
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"chromium-profile-{os.getpid()}-{time.monotonic_ns()}"
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", *args], capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_chromium_draws_the_figures_tables_and_math(built):
    root, _ = built
    page = root / "_build" / "html" / "book" / "fig4.html"
    probe_page = page.with_name("fig4_probe.html")  # same folder, so every relative link still resolves
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = _chromium("--dump-dom", "--window-size=1280,2000", probe_page.as_uri()).stdout  # the screenshot's width
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe script did not run"
    report = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    drawn = [i for i in report["images"] if i["complete"] and min(i["natural"]) > 100 and min(i["shown"]) > 100]
    assert len(drawn) >= 4, report["images"]  # Figure 4, the stacking plot, the feature maps, the level plot
    assert any(t["numericRows"] >= 4 and t["height"] > 50 for t in report["tables"]), report["tables"]
    assert report["math"] >= 2  # MathJax, served locally, typeset the formulas

    # and the pixels: the first figure's region of a screenshot is not blank
    shot = root / "shot.png"
    left, top = drawn[0]["at"]
    width, height = drawn[0]["shown"]
    _chromium(f"--screenshot={shot}", f"--window-size=1280,{int(top + height) + 200}", page.as_uri())
    region = Image.open(shot).convert("RGB").crop((int(left), int(top), int(left + width), int(top + height)))
    colours = region.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20, "the figure's region is (nearly) blank"
    extrema = region.convert("L").getextrema()
    assert extrema[1] - extrema[0] > 100
    region.save(root / "figure_region.png")  # for a look when this fails


LAYOUT_PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const width = document.documentElement.clientWidth;
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && el.offsetParent !== null && !el.closest("details:not([open])") && (!el.checkVisibility || el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})); };
  const article = document.querySelector("article") || document.body;
  const firstHeading = article.querySelector("h2");
  const before = el => firstHeading && (el.compareDocumentPosition(firstHeading) & Node.DOCUMENT_POSITION_FOLLOWING);
  const codeBefore = [...article.querySelectorAll("div.cell_input")].filter(el => before(el) && visible(el))
    .map(el => el.textContent.trim().slice(0, 80));
  const clipped = el => { for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX; if (o === "auto" || o === "scroll" || o === "hidden") return a.getBoundingClientRect().right <= width + 1; }
    return false; };
  const wide = [...document.body.querySelectorAll("*")].filter(el => visible(el) && el.getBoundingClientRect().right > width + 1 && !clipped(el))
    .map(el => el.tagName + "." + [...el.classList].join("."));
  const scrollingCode = [...article.querySelectorAll("pre")].filter(el => visible(el) && el.scrollWidth > el.clientWidth + 1).length;
  const rows = [...article.querySelectorAll("table")].map(t => t.querySelectorAll("tbody tr").length);
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({width, heading: firstHeading ? firstHeading.textContent : null, codeBefore, wide: wide.slice(0, 20),
    pageScroll: document.documentElement.scrollWidth > width + 1, scrollingCode, rows,
    images: [...article.querySelectorAll("img")].filter(visible).length});
  document.body.appendChild(probe);
}, 500));
</script>
"""
TABLE_PAGES = ["table1", "table2", "table3", *(f"wod_table{i}" for i in range(1, 8))]


def _layout(root, name: str) -> dict:
    """What a reader at 1280 px sees of a rendered page: code shown before its first results heading, elements wider
    than the page (outside boxes that scroll on their own), code blocks that need a scroll bar, table rows, images."""
    page = root / "_build" / "html" / "book" / f"{name}.html"
    probe_page = page.with_name(f"{name}_layout.html")
    probe_page.write_text(page.read_text().replace("</body>", LAYOUT_PROBE + "</body>"))
    for _ in range(3):  # on a loaded machine Chromium's virtual time can run out before the probe's timer fires
        dom = _chromium("--dump-dom", "--window-size=1280,2000", probe_page.as_uri()).stdout
        found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
        if found:
            break
    assert found, f"the layout probe did not run on {name} (three tries)"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


def test_a_reader_sees_no_machinery_and_no_horizontal_scroll(built):
    root, _ = built
    for name in ("table3", "wod_table2"):
        seen = _layout(root, name)
        assert seen["heading"], name
        assert seen["codeBefore"] == [], (name, seen["codeBefore"])  # parameters, injected cell, checks: folded
        assert seen["wide"] == [] and not seen["pageScroll"] and seen["scrollingCode"] == 0, (name, seen)
        html = (root / "_build" / "html" / "book" / f"{name}.html").read_text()
        assert html.count('<details class="admonition hide above-input">') >= 3  # behind a "show" toggle
        assert "This page shows numbers of the <strong>smoke</strong> profile" in html


def test_every_claim_has_a_row_and_every_paper_table_a_figure(built):
    from drnlib.paper import claims

    root, _ = built
    overview = _layout(root, "claims")
    assert len(claims()) in overview["rows"] and overview["images"] >= 1
    html = (root / "_build" / "html" / "book" / "claims.html").read_text()
    assert all(f">{claim_id}<" in html for claim_id in claims())
    for name in TABLE_PAGES:
        assert _layout(root, name)["images"] >= 1, name


# Running a page by hand: papermill and JupyterLab.


def test_papermill_runs_a_page_with_p_and_f(tmp_path):
    root = copy_book(tmp_path)
    extra = root / "extra.yaml"
    extra.write_text("input_size: 128\nnum_images: 1\n")
    done = subprocess.run([str(BIN / "papermill"), "book/fig4.ipynb", "out.ipynb", "-p", "dilation", "4",
                           "-f", str(extra), "--no-progress-bar"],
                          cwd=root, capture_output=True, text=True, env=clean_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = nbformat.read(root / "out.ipynb", as_version=4)
    injected = [c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "dilation = 4" in injected[0] and "input_size = 128" in injected[0]
    stored = json.loads((root / "results" / "smoke" / "fig4.json").read_text())  # found from the working dir
    assert stored["params"]["dilation"] == 4 and stored["values"]["input_size"] == 128
    # a name the page does not declare: papermill only warns; the page's first call stops it
    stray = subprocess.run([str(BIN / "papermill"), "book/fig4.ipynb", "stray.ipynb", "-p", "dilaton", "4",
                            "--no-progress-bar"], cwd=root, capture_output=True, text=True, env=clean_env(),
                           timeout=600)
    assert stray.returncode != 0 and "fig4 has no parameter(s) dilaton (did you mean dilation?)" in stray.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab(tmp_path, port, token, *options):
    env = {**clean_env(), "JUPYTER_RUNTIME_DIR": str(tmp_path / f"runtime-{port}")}
    return subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--notebook-dir=book", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", "--ServerApp.port_retries=0", *options,
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"lab-{port}.log", "w"))


def _get_json(url, token, server, log):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError):
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "JupyterLab did not answer in 90 s"
            time.sleep(0.5)


def _stop(server):
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


VIEWER_PROBE = """<html><body><iframe id="lab" src="/lab?token=TOKEN" style="width:1280px;height:800px"></iframe>
<script>
// JupyterLab in a frame of the same origin: double-click book/fig4.py in its file browser, report what opened.
const frame = document.getElementById("lab");
const pause = ms => new Promise(r => setTimeout(r, ms));
function report(x) { const p = document.createElement("pre"); p.id = "probe"; p.textContent = JSON.stringify(x);
                     document.body.appendChild(p); }
async function run() {
  const deadline = Date.now() + 60000;
  while (!(frame.contentWindow && frame.contentWindow.jupyterapp) && Date.now() < deadline) await pause(200);
  const app = frame.contentWindow.jupyterapp;
  await app.started; await app.restored;
  const factory = app.docRegistry.defaultWidgetFactory("fig4.py").name;
  let item = null;
  while (!item && Date.now() < deadline) {
    item = [...frame.contentDocument.querySelectorAll(".jp-DirListing-item")].find(e => e.textContent.includes("fig4.py"));
    await pause(200);
  }
  item.dispatchEvent(new MouseEvent("dblclick", {bubbles: true, cancelable: true, view: frame.contentWindow}));
  let opened = null;
  while (Date.now() < deadline) {
    opened = app.shell.currentWidget;
    if (opened && opened.title.label.includes("fig4")) break;
    await pause(200);
  }
  await pause(1500);
  report({factory, opened: [...opened.node.classList], cells: opened.node.querySelectorAll(".jp-Notebook-cell").length});
}
run().catch(e => report({error: String(e)}));
</script></body></html>"""


def test_jupyterlab_opens_a_py_page_as_a_notebook_with_the_default_viewer(tmp_path):
    """`make lab` installs jupyter/overrides.json, which makes jupytext's notebook view the default viewer of .py
    files: a double click on book/fig4.py in JupyterLab's file browser opens it as a notebook (probed in headless
    Chromium, from a page of the server's own origin); without the project's configuration the default is the text
    editor."""
    installed = BIN.parent / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(installed.read_text()) == json.loads((REPO / "jupyter" / "overrides.json").read_text())
    token, static = "drnbook-test-token", tmp_path / "static"
    static.mkdir()
    (static / "viewer_probe.html").write_text(VIEWER_PROBE.replace("TOKEN", token))
    seen = {}
    for label, options in (("project", ()), ("without it", (f"--LabApp.app_settings_dir={tmp_path / 'none'}",))):
        port = _free_port()
        server = _lab(tmp_path, port, token, "--LabApp.expose_app_in_browser=True",
                      f'--ServerApp.extra_static_paths=["{static}"]', *options)
        try:
            base = f"http://127.0.0.1:{port}"
            model = _get_json(f"{base}/api/contents/fig4.py?content=1", token, server, tmp_path / f"lab-{port}.log")
            assert model["type"] == "notebook" and model["content"]["metadata"]["kernelspec"]["name"] == "python3"
            dom = _chromium("--dump-dom", "--window-size=1300,900", "--virtual-time-budget=60000",
                            f"{base}/static/viewer_probe.html?token={token}").stdout
            found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
            assert found, dom[-2000:]
            seen[label] = json.loads(found.group(1).replace("&quot;", '"'))
        finally:
            _stop(server)
    project, control = seen["project"], seen["without it"]
    assert project.get("factory") == "Jupytext Notebook", seen
    assert "jp-NotebookPanel" in project["opened"] and project["cells"] >= 10, seen
    assert control.get("factory") == "Editor", seen  # the setting is what makes the notebook view the default


# Script mode: the GPU machine has torch, scipy, pandas, matplotlib, seaborn, tqdm and pyyaml, but no Jupyter stack
# (and no pooch, which only downloads need).

GPU_MACHINE_LACKS = ["IPython", "myst_nb", "jinja2", "papermill", "nbformat", "nbclient", "jupytext", "ipykernel", "pooch"]


def test_pages_run_as_plain_scripts_without_the_jupyter_stack(tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        f"BLOCKED = {GPU_MACHINE_LACKS!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is not installed on the GPU machine')\n"
        "sys.meta_path.insert(0, Block())\n")
    root = copy_book(tmp_path / "book")
    (root / "params" / "smoke" / "fig1_fig5.yaml").write_text("profile: smoke\narchs: [resnet18, drn_a_18]\n")
    monkeypatch.setenv("PYTHONPATH", str(blocker))
    assert book.build(root, "smoke", only=["fig1_fig5"], script=True, log=lambda *a, **k: None) is None
    stored = json.loads((root / "results" / "smoke" / "fig1_fig5.json").read_text())
    assert stored["values"]["rf"]["drn_a_18"] == stored["values"]["rf"]["resnet18"]
    log = (root / "_build" / "scripts" / "smoke" / "fig1_fig5.log").read_text()
    assert "Measured:" in log  # show_provenance printed instead of displaying
    assert not (root / "_build" / "html").exists()
    # the blocker works: the same interpreter cannot import the Jupyter stack
    probe = subprocess.run([sys.executable, "-c", "import IPython"], capture_output=True, text=True)
    assert probe.returncode != 0 and "not installed on the GPU machine" in probe.stderr


def test_a_failing_script_names_the_page_and_its_log(tmp_path):
    root = copy_book(tmp_path)
    (root / "params" / "smoke" / "fig4.yaml").write_text("profile: smoke\ncheckpoint_resnet18: _toc.yml\n")
    with pytest.raises(book.NotebookFailed, match=r"fig4 failed: .*CheckpointError.*_toc\.yml.*"
                                                  r"log with the traceback: .*fig4\.log"):
        book.build(root, "smoke", only=["fig4"], script=True, log=lambda *a, **k: None)


def test_set_overrides_a_parameter_and_is_checked_like_a_params_file(tmp_path):
    root = copy_book(tmp_path)
    done = run_book(root, "--only", "fig4", "--script", "--set", "dilation=3", "--set", "size=25")
    assert done.returncode == 0, done.stderr
    stored = json.loads((root / "results" / "smoke" / "fig4.json").read_text())
    assert stored["params"]["dilation"] == 3 and stored["params"]["size"] == 25
    bad = run_book(root, "--only", "fig4", "--script", "--set", "dilaton=3")
    assert bad.returncode == 2 and "has no parameter 'dilaton'" in bad.stderr and "with --set" in bad.stderr
    for value, message in [("dilation=[3", "--set 'dilation=[3': the value is not YAML"),
                           ("dilation=nan", "parameter dilation")]:
        bad = run_book(root, "--only", "fig4", "--script", "--set", value)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and message in bad.stderr, bad.stderr
    (root / "book" / "fig4.ipynb").write_text('{"cells": [')  # a notebook cut short
    bad = run_book(root, "--only", "fig4")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unreadable notebook" in bad.stderr, bad.stderr
