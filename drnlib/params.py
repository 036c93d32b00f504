"""A page's parameters: read from params/<profile>/<page>.yaml, checked against the notebook's parameters cell, and
checked again inside the page, whatever ran it (the book, papermill, JupyterLab, a plain script).

A page's parameters cell holds typed defaults only (`name: type = value  # help`, type one of bool, int, float, str,
list); its first code cell makes one call:

    p = page_parameters("table1", globals(), archs=models(), num_images=between(1, 20))

which checks every parameter against its declared type (a string such as "false" for a bool, as `papermill -p`
passes it, is parsed; anything else is refused with one line naming the parameter, the value and the type
expected), applies the page's rules (choices, ranges, model names, paths), writes the checked values back into the
page's namespace, and returns them as a PageParams (attribute access; `p.overrides` lists the values that differ
from the profile's params file, recorded with the page's results).
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import math
import os
import re
from pathlib import Path

from drnlib.errors import ParameterError
from drnlib.files import read_yaml
from drnlib.provenance import check_profile, repo_root

TYPES = ("bool", "int", "float", "str", "list")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


# Reading params files and parameters cells.


def parse_assignment(text: str, option: str = "--set") -> tuple[str, object]:
    """'object_scale=0.25' -> ("object_scale", 0.25): the value read as YAML, as `--set NAME=VALUE` and
    `--data-option KEY=VALUE` take them; ParameterError naming the option for a missing '=' or a value that is not
    YAML."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"{option} takes NAME=VALUE, got {text!r}")
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise ParameterError(f"{option} {text!r}: the value is not YAML ({getattr(err, 'problem', None) or err})"
                             ) from None


def params_file(root: Path, profile: str, page: str) -> Path:
    return Path(root) / "params" / check_profile(profile) / f"{page}.yaml"


def read_params(root: Path, profile: str, page: str) -> dict:
    """params/<profile>/<page>.yaml as a dict (ParameterError when missing or malformed)."""
    path = params_file(root, profile, page)
    if not path.is_file():
        raise ParameterError(f"{page}: missing {path.relative_to(root)} (every notebook needs one per profile)")
    return read_yaml(path, "params file")


_PARAMETERS_CELL = re.compile(r"^# %%.*\btags=\[[^\]]*[\"']parameters[\"']")


def percent_cells(source: str) -> list[tuple[int, str]]:
    """The cells of a percent-format script: (first line number, text), split at each `# %%` line."""
    cells, start, lines = [], 0, source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("# %%") and i > start:
            cells.append((start, "".join(lines[start:i])))
            start = i
    cells.append((start, "".join(lines[start:])))
    return cells


def parameters_cell(py_path: Path) -> str:
    """The source of the one `parameters` cell of book/NAME.py."""
    cells = [text for _, text in percent_cells(Path(py_path).read_text(encoding="utf-8"))
             if _PARAMETERS_CELL.match(text)]
    if len(cells) != 1:
        raise ParameterError(f"{py_path} must have exactly one cell tagged 'parameters', it has {len(cells)}")
    return cells[0]


def declared_parameters(source: str, where: str) -> dict[str, dict]:
    """{name: {"type": declared type, "default": value}} of a parameters cell, which must hold typed defaults only
    (`name: type = value  # help`), each type one of TYPES."""
    try:
        statements = ast.parse(source).body
    except SyntaxError as err:
        raise ParameterError(f"{where}: the parameters cell is not valid Python: {err.msg} (line {err.lineno})") from None
    declared = {}
    for statement in statements:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and statement.value is not None):
            raise ParameterError(f"{where}: the parameters cell must hold typed defaults only "
                                 f"(`name: type = value  # help`), not {ast.unparse(statement).splitlines()[0]!r}")
        kind = ast.unparse(statement.annotation)
        if kind not in TYPES:
            raise ParameterError(f"{where}: parameter {statement.target.id} is declared {kind!r}; use one of "
                                 f"{', '.join(TYPES)}")
        declared[statement.target.id] = {"type": kind, "default": ast.literal_eval(statement.value)}
    return declared


def notebook_parameters(notebook: Path) -> dict[str, dict]:
    """declared_parameters of a notebook (.ipynb, read with nbformat and checked against what papermill reads) or
    of a percent script (.py, read with `ast` alone: the GPU machine has no Jupyter)."""
    notebook = Path(notebook)
    if notebook.suffix == ".py":
        return declared_parameters(parameters_cell(notebook), str(notebook))
    import nbformat
    import papermill

    try:
        document = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError, AttributeError, TypeError, nbformat.ValidationError) as err:  # NotJSONError: ValueError
        raise ParameterError(f"unreadable notebook {notebook} ({type(err).__name__}); write it again from its "
                             f"pair: jupytext --to ipynb {notebook.with_suffix('.py')}") from None
    cells = [c for c in document.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{notebook} must have exactly one cell tagged 'parameters', it has {len(cells)}")
    declared = declared_parameters(cells[0].source, str(notebook))
    known = papermill.inspect_notebook(str(notebook))
    unread = [name for name in declared if name not in known]
    if unread:
        raise ParameterError(f"{notebook}: papermill cannot read the parameter line of {', '.join(unread)} "
                             "(one assignment per line, and no '=' in its comment)")
    return declared


# Typed values.


def coerce(name: str, value, kind: str):
    """`value` as the declared `kind` (bool, int, float, str, list): values of that type pass; strings that spell
    one ("false", "3", "0.5", "a,b") are parsed, as papermill's `-p` passes most values as strings; anything else
    raises ParameterError naming the parameter, the value and the type expected."""
    def refuse(expected: str):
        raise ParameterError(f"parameter {name}={value!r}: expected {expected}")

    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        refuse("a bool (true or false)")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        refuse("an int")
    if kind == "float":
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value.strip())
        if number is not None and math.isfinite(number):
            return float(number)
        refuse("a finite float")
    if kind == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # `papermill -p seeds 1` passes an int
        refuse("a str")
    if kind == "list":
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        refuse("a list (or a comma-separated string)")
    raise ParameterError(f"parameter {name}: unknown declared type {kind!r}")


# Rules: what a value must be beyond its type. Each rule is called as rule(name, value) and returns the value
# (possibly normalised) or raises ParameterError with one line.


def _suggest(value, choices) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=3)
    return f"did you mean {', '.join(close)}?" if close else f"choose from {', '.join(map(str, choices))}"


def one_of(*choices):
    """The value (or each item of a list) is one of `choices`."""
    def rule(name, value):
        for item in value if isinstance(value, list) else [value]:
            if item not in choices:
                raise ParameterError(f"parameter {name}: unknown value {item!r}; {_suggest(item, choices)}")
        return value
    return rule


def between(low=None, high=None):
    """The number (or each number of a list) lies in [low, high] (None: unbounded)."""
    def rule(name, value):
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
                raise ParameterError(f"parameter {name}={item!r}: must be a finite number")
            if (low is not None and item < low) or (high is not None and item > high):
                bounds = (f"between {low} and {high}" if low is not None and high is not None
                          else f">= {low}" if low is not None else f"<= {high}")
                raise ParameterError(f"parameter {name}={item!r}: must be {bounds}")
        return value
    return rule


def multiple_of(step: int, low=None, high=None):
    """An integer in [low, high] divisible by `step` (e.g. an input side every level of a network divides)."""
    def rule(name, value):
        between(low, high)(name, value)
        if value % step:
            raise ParameterError(f"parameter {name}={value!r}: must be a multiple of {step}")
        return value
    return rule


def numbers(kind=float, low=None, high=None, at_least: int = 1):
    """A list of numbers (a list parameter, or comma-separated text), each of `kind` within [low, high]."""
    def rule(name, value):
        items = value if isinstance(value, list) else coerce(name, value, "list")
        try:
            parsed = [kind(item) for item in items]
        except (TypeError, ValueError):
            raise ParameterError(f"parameter {name}={value!r}: expected comma-separated {kind.__name__} "
                                 "values") from None
        if len(parsed) < at_least:
            raise ParameterError(f"parameter {name}={value!r}: needs at least {at_least} value(s)")
        return between(low, high)(name, parsed)
    return rule


def models(allowed=None, at_least: int = 1):
    """A list of architecture names (drnlib.models names; 'ResNet-18' and 'DRN-C-26' spellings accepted), each in
    `allowed` when given, without repeats."""
    def rule(name, value):
        from drnlib.models import list_models, normalize_name

        items = value if isinstance(value, list) else coerce(name, value, "list")
        if not all(isinstance(a, str) for a in items):
            raise ParameterError(f"parameter {name}={value!r}: expected architecture names (strings)")
        names = list(dict.fromkeys(normalize_name(a) for a in items))
        if len(names) < at_least:
            raise ParameterError(f"parameter {name}: needs at least {at_least} architecture(s), got {value!r}")
        one_of(*(allowed if allowed is not None else list_models()))(name, names)
        return names
    return rule


def path(kind: str = "file"):
    """An optional path: "" means none (None); otherwise the file (or folder) must exist. Relative paths are taken
    from the book's root (the repository), wherever the notebook runs."""
    def rule(name, value):
        if not str(value):
            return None
        resolved = Path(value).expanduser()
        if not resolved.is_absolute():
            resolved = repo_root() / resolved
        if not (resolved.is_file() if kind == "file" else resolved.is_dir()):
            raise ParameterError(f"parameter {name}: {kind} {value} does not exist")
        return resolved
    return rule


class PageParams:
    """A page's checked parameters: attribute and item access, `as_dict()`, the page's name and profile, and
    `overrides` (name -> value for the values that differ from params/<profile>/<page>.yaml)."""

    def __init__(self, page: str, values: dict, overrides: dict):
        self.__dict__.update(values)
        self._page, self._values, self.overrides = page, dict(values), overrides

    @property
    def page(self) -> str:
        return self._page

    def __getitem__(self, name: str):
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self._values.items()}

    def __repr__(self) -> str:
        return f"PageParams({self._page}: {self._values})"


def page_parameters(page: str, namespace: dict, **rules) -> PageParams:
    """Check a page's parameters (see the module docstring) and return them; writes the checked values back
    into `namespace` (the notebook's globals), so the rest of the page may use the bare names.

    Every name annotated in the parameters cell is checked against its type; `rules` maps names to rules
    (one_of, between, numbers, models, path, or any callable(name, value) -> value). `profile` must be a profile.
    Raises ParameterError (one line) before anything else runs.
    """
    declared = {name: getattr(kind, "__name__", str(kind))
                for name, kind in namespace.get("__annotations__", {}).items()}
    _refuse_injected_unknowns(page, namespace, declared)
    unknown_rules = [name for name in rules if name not in declared]
    if unknown_rules:
        raise ParameterError(f"{page}: rules for undeclared parameter(s) {', '.join(unknown_rules)}")
    values = {}
    for name, kind in declared.items():
        if name not in namespace:
            raise ParameterError(f"{page}: parameter {name} is declared but has no value")
        value = coerce(name, namespace[name], kind)
        if name in rules:
            value = rules[name](name, value)
        values[name] = value
    if "profile" in values:
        check_profile(values["profile"])
    namespace.update(values)
    return PageParams(page, values, _overrides(page, values))


def _refuse_injected_unknowns(page: str, namespace: dict, declared) -> None:
    """ParameterError for a name papermill injected (`papermill -p nosuch 3`: papermill only warns, and the page
    would run with its defaults) that the parameters cell does not declare. The injected cell is the one IPython
    ran that starts with papermill's "# Parameters" line; names a reader assigns in JupyterLab are not looked at."""
    injected = [cell for cell in namespace.get("In") or [] if isinstance(cell, str) and cell.startswith("# Parameters")]
    names = []
    for cell in injected:
        with contextlib.suppress(SyntaxError):
            names += [node.id for node in ast.walk(ast.parse(cell))
                      if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)]
    # papermill's own names (--inject-paths) are not parameters
    stray = [name for name in dict.fromkeys(names) if name not in declared and not name.startswith("PAPERMILL_")]
    if stray:
        close = difflib.get_close_matches(stray[0], list(declared), n=1)
        raise ParameterError(f"{page} has no parameter(s) {', '.join(stray)}"
                             + (f" (did you mean {close[0]}?)" if close else "")
                             + f"; its parameters: {', '.join(declared)}")


def _overrides(page: str, values: dict) -> dict:
    """The values that differ from the profile's params file (compared as the file's types coerce), so that a
    result computed with `--set`, `papermill -p` or an edited cell is never shown as the profile's own."""
    profile = values.get("profile")
    path = params_file(repo_root(), profile, page) if profile else None
    if path is None or not path.is_file():
        return {}
    stored = read_params(repo_root(), profile, page)
    out = {}
    for name, value in values.items():
        if name not in stored:
            continue
        shown = str(value) if isinstance(value, Path) else value
        expected = stored[name]
        if isinstance(value, list) and isinstance(expected, str):
            expected = [part.strip() for part in expected.split(",") if part.strip()]
        if shown != expected and not (isinstance(shown, float) and shown == expected):
            out[name] = shown
    recipe_changes = os.environ.get("DRNLIB_RECIPE_OVERRIDES")
    if recipe_changes:
        out["recipes"] = recipe_changes
    return out


def check_against_declared(notebook: Path, params: dict, origin: str, declared: dict | None = None) -> dict:
    """Refuse names the notebook's parameters cell lacks and values its declared types cannot take (before the
    notebook runs; papermill alone only warns). Returns the declared parameters."""
    declared = declared if declared is not None else notebook_parameters(notebook)
    for name, value in params.items():
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ParameterError(f"{origin}: {Path(notebook).stem} has no parameter {name!r}; {hint}it has "
                                 f"{', '.join(declared)}")
        try:
            coerce(name, value, declared[name]["type"])
        except ParameterError as err:
            raise ParameterError(f"{origin}: {Path(notebook).stem} {err}") from None
    return declared


__all__ = ["TYPES", "params_file", "read_params", "percent_cells", "parameters_cell", "declared_parameters",
           "notebook_parameters", "parse_assignment", "coerce", "one_of", "between", "multiple_of", "numbers", "models", "path", "PageParams",
           "page_parameters", "check_against_declared"]
