"""Run the book's notebooks with papermill, then render the Jupyter Book from the executed copies.

    python -m drnlib.book                      # profile smoke: every notebook of _toc.yml, then the HTML
    python -m drnlib.book --profile mini       # parameters from params/mini/NAME.yaml
    python -m drnlib.book --only fig4 zoo      # run these notebooks, re-render the book
    python -m drnlib.book --no-execute         # re-render from the notebooks executed last time
    python -m drnlib.book --profile mini --script   # run the pages as plain Python (no Jupyter; no HTML):
                                                    # how the GPU machine produces results/mini/

Steps: check that every book/NAME.py and book/NAME.ipynb pair is in sync, read params/<profile>/NAME.yaml and
refuse names the notebook's `parameters` cell does not have (papermill alone only warns), run each notebook with
papermill into _build/executed/<profile>/NAME.ipynb, stage _config.yml, _toc.yml, the Markdown pages and the
executed notebooks in _build/stage/ with execution switched off, and build _build/html/ with warnings as errors.

Parameters are read and checked by drnlib.params (which the notebooks also call, first thing, to check their own).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from drnlib.errors import DrnError, ParameterError
from drnlib.files import read_yaml
from drnlib.params import _PARAMETERS_CELL, check_against_declared, parse_assignment, percent_cells, read_params
from drnlib.provenance import PROFILES, ROOT_ENV, check_profile, repo_root
from drnlib.toc import BOOK_DIR, Page, toc_pages

class NotebookFailed(DrnError):
    """A notebook raised an error while running; the message names it and where its traceback is."""


class RenderFailed(DrnError):
    """Jupyter Book reported warnings or errors (the build treats warnings as errors)."""


# Notebook pairs (book/NAME.py <-> book/NAME.ipynb through jupytext).

def _cells(notebook) -> list[tuple]:
    """What a pair must agree on: cell types, sources and tags (the .py keeps no other cell metadata, so the
    .ipynb's ids, execution times or collapsed states are noise)."""
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in notebook.cells]


def pair_problems(py_path: Path) -> list[str]:
    """Why book/NAME.py and book/NAME.ipynb disagree (empty when in sync): cells, kernelspec, outputs."""
    import jupytext
    import nbformat

    ipynb_path = py_path.with_suffix(".ipynb")
    fix = f"run `jupytext --sync {py_path}`"
    if not ipynb_path.is_file():
        return [f"{ipynb_path} is missing: {fix}"]
    text = jupytext.read(py_path)
    try:
        stored = nbformat.read(ipynb_path, as_version=4)
    except (ValueError, AttributeError, TypeError, nbformat.ValidationError) as err:  # NotJSONError: a ValueError
        return [f"unreadable notebook {ipynb_path} ({type(err).__name__}); write it again from its pair: "
                f"jupytext --to ipynb {py_path}"]
    problems = []
    if _cells(text) != _cells(stored):
        ours, theirs = _cells(text), _cells(stored)
        first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        problems.append(f"{py_path.name} and {ipynb_path.name} differ from cell {first} on ({len(ours)} vs {len(theirs)} cells): {fix}")
    for label, nb in ((py_path.name, text), (ipynb_path.name, stored)):
        if nb.metadata.get("kernelspec", {}).get("name") != "python3":
            problems.append(f"{label} has no python3 kernelspec: run `jupytext --set-kernel python3 {py_path}`")
    if any(c.get("outputs") or c.get("execution_count") for c in stored.cells if c.cell_type == "code"):
        problems.append(f"{ipynb_path.name} is committed with outputs: clear them (`jupytext --sync` keeps them out)")
    return problems


# Pages that read every other page's stored results: executed last, wherever the table of contents shows them.
AGGREGATE_PAGES = ("claims",)


# Parameters.


def page_params(root: Path, profile: str, page: Page, script: bool = False, overrides: dict | None = None) -> dict:
    """params/<profile>/NAME.yaml (with `overrides` on top), checked against the notebook's parameters cell (or,
    for `script`, its .py), with `profile` filled in when it has one."""
    params = {**read_params(root, profile, page.name), **(overrides or {})}
    origin = f"params/{profile}/{page.name}.yaml" + (" with --set" if overrides else "")
    source = page.source.with_suffix(".py") if script else page.source
    declared = check_against_declared(source, params, origin)
    if "profile" in declared:
        if params.setdefault("profile", profile) != profile:
            raise ParameterError(f"{origin} sets profile {params['profile']!r}, but the book is built at {profile!r}")
    try:  # the page's own rules too (drnlib.pages.start applies them again inside the page), before anything runs
        from drnlib.pages import checked

        checked(page.name, params, root)
    except ParameterError as err:
        raise ParameterError(f"{origin}: {page.name} {err}") from None
    return params


# Pages as plain scripts (book/NAME.py, percent format): the GPU machine has no Jupyter, papermill or jupytext.


def run_script(py_path: Path, params: dict) -> None:
    """Execute book/NAME.py cell by cell in one namespace, with `params` assigned right after the parameters
    cell (as papermill's injected cell does). Line numbers in tracebacks are the file's own."""
    namespace = {"__name__": "__main__", "__file__": str(py_path)}
    for start, text in percent_cells(py_path.read_text(encoding="utf-8")):
        exec(compile("\n" * start + text, str(py_path), "exec"), namespace)
        if _PARAMETERS_CELL.match(text):
            namespace.update(params)


class _Tee:
    """A text stream that writes to several (a page's log, and the terminal when a campaign shows progress)."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


def execute_script_in_process(root: Path, profile: str, page: Page, params: dict, echo: bool = False) -> Path:
    """Run one page as a plain script in this interpreter (working directory book/, output to its log, and to the
    terminal with `echo`), as `execute_script` does in a fresh one: a campaign runs many pages and pays the imports
    once. Figures are closed and memory released afterwards; raise NotebookFailed naming the page, its error and its
    log."""
    import contextlib
    import gc
    import traceback

    import matplotlib

    matplotlib.use("Agg", force=True)  # no display: figures are saved, never shown
    import matplotlib.pyplot as plt

    py_path = page.source.with_suffix(".py")
    log_path = root / "_build" / "scripts" / profile / f"{page.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    previous = Path.cwd(), os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(root)
    failure = None
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            out = _Tee(log, sys.__stdout__) if echo else log
            stack = contextlib.ExitStack()
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(out))
            with stack:
                os.chdir(py_path.parent)
                try:
                    run_script(py_path, params)
                except BaseException as err:  # the page's error, kept for the caller; KeyboardInterrupt goes on
                    if isinstance(err, KeyboardInterrupt):
                        raise
                    traceback.print_exc()
                    failure = f"{type(err).__module__}.{type(err).__name__}: {' '.join(str(err).split())}"
    finally:
        os.chdir(previous[0])
        if previous[1] is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = previous[1]
        plt.close("all")
        gc.collect()
        _empty_cuda_cache()
    if failure:
        raise NotebookFailed(f"{page.name} failed: {failure} (log with the traceback: {_shown(log_path, root)})")
    return log_path


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def execute_script(root: Path, profile: str, page: Page, params: dict) -> Path:
    """Run one page as a plain script in a fresh interpreter (working directory book/); raise NotebookFailed."""
    py_path = page.source.with_suffix(".py")
    log_path = root / "_build" / "scripts" / profile / f"{page.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, ROOT_ENV: str(root), "MPLBACKEND": "Agg"}
    with open(log_path, "w", encoding="utf-8") as log:
        done = subprocess.run([sys.executable, "-m", "drnlib.book", "--run-script", str(py_path), json.dumps(params)],
                              cwd=py_path.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        lines = [line for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        raise NotebookFailed(f"{page.name} failed: {lines[-1] if lines else 'no output'} "
                             f"(log with the traceback: {_shown(log_path, root)})")
    return log_path


# Executing and rendering.


def executed_path(root: Path, profile: str, page: Page) -> Path:
    return root / "_build" / "executed" / profile / f"{page.name}.ipynb"


def execute_page(root: Path, profile: str, page: Page, params: dict) -> Path:
    """Run one notebook with papermill (working directory book/, like JupyterLab); raise NotebookFailed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output = executed_path(root, profile, page)
    output.parent.mkdir(parents=True, exist_ok=True)
    where = f"executed notebook with the traceback: {_shown(output, root)}"
    try:
        papermill.execute_notebook(
            str(page.source), str(output), parameters=params, progress_bar=False, cwd=str(page.source.parent),
            kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=CRITICAL"],  # kernel chatter off
        )
    except PapermillExecutionError as err:
        evalue = " ".join(str(err.evalue).split())
        raise NotebookFailed(f"{page.name} failed in cell {err.exec_count}: {err.ename}: {evalue} ({where})") from None
    except Exception as err:  # a dead kernel, a timeout, an unreadable notebook
        message = " ".join(str(err).split()) or type(err).__name__
        raise NotebookFailed(f"{page.name} failed: {type(err).__name__}: {message} ({where})") from None
    hide_injected_parameters(output)
    return output


def hide_injected_parameters(notebook: Path) -> None:
    """Tag papermill's injected-parameters cell "hide-cell", as the pages tag their own parameters cell: the
    rendered page keeps the machinery behind a "show" toggle (Jupyter Book's cell tags)."""
    import nbformat

    executed = nbformat.read(notebook, as_version=4)
    for cell in executed.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    nbformat.write(executed, notebook)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def stage(root: Path, profile: str, pages: list[Page]) -> tuple[Path, list[str]]:
    """Copy config, toc, Markdown pages and executed notebooks into _build/stage/; return it and the names of
    notebooks rendered from their unexecuted source (never run at this profile)."""
    staged = root / "_build" / "stage"
    if staged.exists():
        shutil.rmtree(staged)
    ignore = shutil.ignore_patterns("*.py", "*.ipynb", "jupytext.toml", ".ipynb_checkpoints", "__pycache__")
    shutil.copytree(root / BOOK_DIR, staged / BOOK_DIR, ignore=ignore)
    config = read_yaml(root / "_config.yml", "book configuration")
    config.setdefault("execute", {})["execute_notebooks"] = "off"  # executed already, by papermill
    (staged / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    shutil.copy2(root / "_toc.yml", staged / "_toc.yml")
    for extra in root.glob("*.bib"):
        shutil.copy2(extra, staged / extra.name)
    if (root / "_static").is_dir():  # the book's CSS (Jupyter Book adds every .css of _static to the pages)
        shutil.copytree(root / "_static", staged / "_static")
    unexecuted = []
    for page in pages:
        if not page.is_notebook:
            continue
        target = staged / page.source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        executed = executed_path(root, profile, page)
        if executed.is_file():
            shutil.copy2(executed, target)
        else:
            shutil.copy2(page.source, target)
            unexecuted.append(page.name)
    return staged, unexecuted


def jupyter_book_command(staged: Path, root: Path) -> list[str]:
    """Render HTML into <root>/_build/html, warnings as errors, nitpicky, reporting every warning. Every page is
    rendered again (--all): Sphinx would skip unchanged pages, and with them their warnings (e.g. missing glue)."""
    return [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
        "build", str(staged), "--path-output", str(root), "--builder", "html", "-W", "-n", "--keep-going", "--all",
    ]


def render(root: Path, staged: Path) -> Path:
    done = subprocess.run(jupyter_book_command(staged, root), capture_output=True, text=True,
                          env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    index = root / "_build" / "html" / "index.html"
    if done.returncode != 0 or not index.is_file():
        log = (done.stdout + done.stderr).splitlines()
        problems = [line for line in log if "WARNING" in line or "ERROR" in line or "Error" in line] or log[-15:]
        raise RenderFailed("rendering the HTML failed:\n  " + "\n  ".join(problems[:20]))
    return index


def build(root: Path, profile: str = "smoke", only: list[str] | None = None, execute: bool = True,
          log=print, script: bool = False, overrides: dict | None = None) -> Path | None:
    """Run the notebooks (all, or `only`) at `profile` and render the book; return _build/html/index.html.
    `script`: run the pages as plain Python scripts and render nothing (results/<profile>/ is the product).
    `overrides`: parameter values that replace the params files' for every page run (e.g. {"arch": "drn_a_50"})."""
    check_profile(profile)
    root = root.resolve()
    pages = toc_pages(root)
    notebooks = [p for p in pages if p.is_notebook]
    if only:
        by_name = {p.name: p for p in notebooks}
        for name in only:
            if name not in by_name:
                raise ParameterError(f"--only {name}: no such notebook in _toc.yml" + _suggest(name, by_name))
        notebooks = [by_name[name] for name in dict.fromkeys(only)]
    to_run = notebooks if execute else []
    # pages that gather every other page's stored results (the claims overview) run after them
    to_run = [p for p in to_run if p.name not in AGGREGATE_PAGES] + [p for p in to_run if p.name in AGGREGATE_PAGES]
    if not script:  # jupytext is needed to compare the pairs; script mode reads the .py alone
        problems = [problem for page in to_run for problem in pair_problems(page.source.with_suffix(".py"))]
        if problems:
            raise ParameterError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    params = {page.name: page_params(root, profile, page, script, overrides) for page in to_run}  # checks first

    previous_root = os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(root)  # the kernels write results/<profile>/ into this book (restored below)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel's debugger warning on stderr
    try:
        if profile == "smoke" and execute and not only:
            for stale in (root / "results" / "smoke").glob("*.json"):  # smoke results are rebuilt every time
                stale.unlink()
        log(f"drnlib.book: profile {profile}, {len(to_run)} notebook(s) to run, book in {root}")
        failures = []
        for number, page in enumerate(to_run, 1):
            log(f"[{number}/{len(to_run)}] {page.name} ...", end=" ", flush=True)
            start = time.perf_counter()
            try:
                (execute_script if script else execute_page)(root, profile, page, params[page.name])
                log(f"ok ({time.perf_counter() - start:.1f} s)", flush=True)
            except NotebookFailed as err:
                log(f"FAILED ({time.perf_counter() - start:.1f} s)", flush=True)
                failures.append(str(err))
        if failures:
            raise NotebookFailed("; ".join(failures))
        if script:
            log(f"done: results in {_shown(root / 'results' / profile, root)}")
            return None

        start = time.perf_counter()
        staged, unexecuted = stage(root, profile, pages)
        if unexecuted:
            log(f"note: never executed at profile {profile}, rendered without outputs: {', '.join(unexecuted)}")
        log("rendering HTML (execution off) ...", end=" ", flush=True)
        try:
            index = render(root, staged)
        except RenderFailed:
            log("FAILED", flush=True)
            raise
        log(f"ok ({time.perf_counter() - start:.1f} s) -> {_shown(index, root)}", flush=True)
        return index
    finally:
        if previous_root is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = previous_root


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3)
    return f"; did you mean {', '.join(close)}?" if close else f"; notebooks: {', '.join(choices) or 'none'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drnlib.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="smoke", choices=PROFILES, help="which params/<profile>/ to run with")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (then render all)")
    parser.add_argument("--no-execute", action="store_true", help="render from the last executed notebooks")
    parser.add_argument("--root", type=Path, default=None, help="the book's root folder (default: this repository)")
    parser.add_argument("--script", action="store_true",
                        help="run the pages as plain Python scripts, without Jupyter, and render no HTML")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a parameter of the pages run (YAML value), e.g. --only table3 --set arch=drn_a_50")
    parser.add_argument("--run-script", nargs=2, metavar=("PAGE_PY", "PARAMS_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_script:  # the child process of --script
        run_script(Path(args.run_script[0]), json.loads(args.run_script[1]))
        return 0
    try:
        overrides = dict(parse_assignment(item) for item in args.set)
        build(args.root or repo_root(), args.profile, args.only, execute=not args.no_execute, script=args.script,
              overrides=overrides)
    except (NotebookFailed, RenderFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except DrnError as err:  # bad usage: unknown profile, page or parameter, missing params file
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
