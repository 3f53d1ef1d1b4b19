"""The Python API refuses a bad argument in one line naming it (``ConfigError`` or ``TypeError``),
before anything is computed or written: each kind of mistake by hand, then every parameter of
every public function with bad values generated from its type.

No job may run here: the module replaces the points where a job would start computing (or a
sweep would start writing) with a failure, so an argument let through fails its test at once.
"""

from __future__ import annotations

import inspect
import math
import re
import string
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pruning_lab
from pruning_lab import ConfigError
from pruning_lab.analysis.control import ControlError
from pruning_lab.analysis.document import Report
from pruning_lab.config import shown

from .conftest import CONF, TINY
from .test_aggregate import configs, result, write  # noqa: F401  (configs: a fixture)

ARMS = ("ketamine", "ssri")
LAUNCHERS = sorted(p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml"))


def _past_the_checks(*args, **kwargs):
    raise AssertionError("a call with a bad argument went past its checks")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, configs):  # noqa: F811
    """A directory with a file, an empty folder and a small sweep (2 arms x 3 seeds); the calls run
    from its ``cwd/`` (relative defaults land there), with no job able to start."""
    root = tmp_path_factory.mktemp("refusals")
    (root / "file").write_text("not a directory\n")
    (root / "empty").mkdir()
    (root / "cwd").mkdir()
    for t in ARMS:
        for seed in range(3):
            write(root / "results" / f"{t}_{seed}" / "result.json", result(configs, seed, t))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root / "cwd")
        mp.setattr("pruning_lab.sim.protocol.run", _past_the_checks)  # simulate() without a store
        mp.setattr("pruning_lab.store.Store.result_of", _past_the_checks)  # simulate() with one
        mp.setattr("pruning_lab.launch.grid.taken", _past_the_checks)  # a sweep's first write, after its plan
        yield root


def tree(root: Path) -> list[str]:
    # hypothesis may keep its example database in the cwd
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".hypothesis" not in p.parts)


def refused(call, param: str, *also: str, kind: type = Exception) -> str:
    """The one-line message ``call()`` is refused with, naming ``param`` (or one of ``also``: the
    override or key at fault); nothing written beside the cwd. Any other exception propagates."""
    root = Path.cwd().parent
    before = tree(root)
    with pytest.raises((ConfigError, TypeError)) as e:
        call()
    message = str(e.value)
    assert isinstance(e.value, kind), (type(e.value), message)
    assert "\n" not in message and "\r" not in message and message.strip() == message, message
    assert re.search(rf"\b{re.escape(param)}\b", message) or any(a and a in message for a in also), \
        f"{param} not named: {message}"
    assert tree(root) == before, "written on refusal"
    return message


# -- each kind of mistake ----------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"paper": 3}, {"paper": "x"}, {"paper": True}, {"ddof": -1}, {"ddof": 2},
                                    {"ddof": True}, {"ddof": 1.0}], ids=repr)
def test_a_paper_or_ddof_out_of_range_is_refused(scratch, kwargs):
    [(param, value)] = kwargs.items()
    message = refused(lambda: pruning_lab.report("../results", **kwargs), param, kind=ConfigError)
    assert message.startswith(f"{param} must be ") and message.endswith(f"got {value!r}")


@pytest.mark.parametrize("call", ["job", "simulate", "sweep"])
@pytest.mark.parametrize("overrides, words", [([None], "overrides[0] must be a string such as 'seed=3', got None"),
                                              ("seed=1", "overrides must be a list of strings"),
                                              ({"seed": 1}, "overrides must be a list of strings"),
                                              ([*TINY, b"seed=1"], "overrides[7] must be a string")], ids=repr)
def test_overrides_that_are_not_a_list_of_strings_are_a_type_error(scratch, call, overrides, words):
    args = ({"seed": [0]},) if call == "sweep" else ()
    assert words in refused(lambda: getattr(pruning_lab, call)(*args, overrides=overrides), "overrides",
                            kind=TypeError)


@pytest.mark.parametrize("call", ["job", "simulate", "sweep"])
@pytest.mark.parametrize("override", ["=1", "+=1", "=ketamine"])
def test_an_override_without_a_key_is_named(scratch, call, override):
    # Hydra's defaults list raised a ValueError naming neither the override nor its argument
    args = ({"seed": [0]},) if call == "sweep" else ()
    message = refused(lambda: getattr(pruning_lab, call)(*args, overrides=[*TINY, override]), "overrides",
                      repr(override), kind=ConfigError)
    assert message == f"cannot parse override {override!r}: no key before '='"


WHERE = [("simulate", "store"), ("sweep", "store"), ("sweep", "sweep_dir"), ("Report.save", "out")]


def into(call: str, param: str, path):
    """``call`` writing into ``path`` as its ``param``, a job every check would pass otherwise."""
    if call == "simulate":
        return lambda: pruning_lab.simulate(TINY, store=path)
    if call == "sweep":
        places = {"store": "store", "sweep_dir": "sweep", param: path}
        return lambda: pruning_lab.sweep({"seed": [0]}, overrides=TINY, n_jobs=1, **places)
    return lambda: Report("t").save(path)


@pytest.mark.parametrize("call, param", WHERE)
@pytest.mark.parametrize("path, words", [("../file", "../file is a file, not a directory"),
                                         ("../file/sub", "../file/sub cannot be created: ../file is a file"),
                                         ("/proc/pruning-lab", "/proc/pruning-lab cannot be created: /proc takes no "
                                                               "new directory")])
def test_a_directory_that_cannot_be_written_is_refused(scratch, call, param, path, words):
    message = refused(into(call, param, path), param, kind=ConfigError)
    assert message == f"{param} {words}" + (" (No such file or directory)" if path.startswith("/proc") else "")
    assert not Path(path).is_dir()


def test_an_object_shown_in_a_message_is_shown_on_one_line(scratch):
    # an array's or a frame's repr spans lines
    message = refused(lambda: pruning_lab.simulate(TINY, store=np.zeros((3, 3))), "store", kind=TypeError)
    assert message == "store must be a path (a str or a pathlib.Path), got array([[0., 0., 0.], [0., 0., 0.], " \
                      "[0., 0., 0.]])"
    frame = pd.DataFrame({"a": [1, 2]})
    assert refused(lambda: pruning_lab.report("../results", paper=frame), "paper").endswith("got    a 0  1 1  2")


@pytest.mark.parametrize("grid, words", [({"seed": []}, "grid['seed'] is empty: the sweep would have no jobs"),
                                         ({}, "grid has no keys"), ([], "grid has no jobs")], ids=repr)
def test_an_empty_grid_is_refused(scratch, grid, words):
    message = refused(lambda: pruning_lab.sweep(grid, overrides=TINY, store="store", sweep_dir="sweep", n_jobs=1),
                      "grid", kind=ConfigError)
    assert message.startswith(words)
    assert not Path("store").exists() and not Path("sweep").exists()


def test_a_grid_value_is_named_by_its_key_whatever_it_is(scratch):
    def grid(values):
        return lambda: pruning_lab.sweep({"seed": values}, overrides=TINY, store="store", sweep_dir="sweep", n_jobs=1)

    # too long for the job directory's name it would give: the seed's range is named, not the directory
    assert refused(grid([0, 10**300]), "seed").startswith("seed must be less than or equal to 4294966, got 1000")
    # a newline in a value: shown escaped, and so is the job's override in the message
    message = refused(grid(["0\n1"]), "seed")
    assert message.startswith("seed must be an integer, got '0\\n1' (job ") and message.endswith("seed='0\\n1')")


@pytest.mark.parametrize("call, param", [(pruning_lab.load_results, "path"), (pruning_lab.report, "results")])
def test_results_that_do_not_exist_are_refused_and_none_found_is_a_warning(scratch, call, param):
    assert refused(lambda: call("../missing"), param, kind=ConfigError) == f"{param} ../missing does not exist"
    for empty in ("../empty", "../file"):
        before = tree(scratch)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            out = call(empty)
        assert str(seen[-1].message) == f"{empty} holds no valid result"  # after the skipped file's, if any
        assert len(out) == 0 if isinstance(out, pd.DataFrame) else "**No valid result was found.**" in out.markdown()
        assert tree(scratch) == before


@pytest.mark.parametrize("overrides, grid, chosen, line", [
    (["hydra/sweeper=search"], {"seed": [0]}, "hydra/sweeper=search", "hydra/sweeper=search seed=0"),
    (["hydra.sweeper.study=search"], {"seed": [0]}, "hydra/sweeper=search", "hydra/sweeper=search seed=0"),
    (["experiment=search_regrowth"], {"seed": [0]}, "experiment=search_regrowth (hydra/sweeper=search)",
     "experiment=search_regrowth seed=0"),
    ([], {"experiment": ["morris"]}, "experiment=morris (hydra/sweeper=sensitivity)", "experiment=morris"),
    ([], [["seed=0"], ["seed=1", "hydra/sweeper=sensitivity"]], "hydra/sweeper=sensitivity",
     "seed=0,1 hydra/sweeper=sensitivity"),
], ids=["sweeper", "the old key", "a preset", "a preset in the grid", "one job's sweeper"])
def test_a_study_is_left_to_the_command_line_which_runs_it(scratch, overrides, grid, chosen, line):
    message = refused(lambda: pruning_lab.sweep(grid, overrides=overrides, store="store", sweep_dir="sweep",
                                                n_jobs=1), "sweep", kind=ConfigError)
    assert message == (f"{chosen} is a study, which sweep() does not run (it runs grids); run it from the command "
                       f"line: python -m pruning_lab.run -m {line}")


@pytest.mark.parametrize("kwargs, kind", [({"n_jobs": 0}, ConfigError), ({"n_jobs": 1.5}, TypeError),
                                          ({"n_jobs": True}, TypeError), ({"n_jobs": "2"}, TypeError),
                                          ({"n_jobs": None}, TypeError), ({"launcher": "joblib"}, ConfigError),
                                          ({"launcher": ""}, ConfigError), ({"launcher": None}, TypeError)], ids=repr)
def test_a_launch_setting_that_cannot_run_is_refused(scratch, kwargs, kind):
    [(param, value)] = kwargs.items()
    message = refused(lambda: pruning_lab.sweep({"seed": [0]}, overrides=TINY, store="store", sweep_dir="sweep",
                                                **{"n_jobs": 1, **kwargs}), param, kind=kind)
    assert message.startswith(f"{param} must be ") and message.endswith(f"got {value!r}")


def test_a_control_arm_not_in_the_results_is_refused(scratch):
    message = refused(lambda: pruning_lab.report("../results", control="placebo"), "control", kind=ControlError)
    assert message == "control arm 'placebo' is not in these results; arms: ketamine, ssri"
    # an unhashable name reached a set lookup deep inside
    assert refused(lambda: pruning_lab.report("../results", control=["ketamine"]), "control", kind=TypeError) == \
        "control must be an arm's name (a str) or None, got ['ketamine']"


def test_a_frame_that_is_no_tidy_frame_is_a_type_error(scratch):
    for frame in (pd.DataFrame({"x": [1]}), pd.DataFrame({"path": [1], "config_hash": ["a"]})):
        assert refused(lambda: pruning_lab.report(frame), "results", kind=TypeError).startswith(
            "results must be a ResultSet, a path, or the tidy frame of load_results or sweep")


# -- every parameter, with bad values generated by its type ------------------------------------


PUBLIC = {name: getattr(pruning_lab, name) for name in pruning_lab.__all__
          if inspect.isfunction(getattr(pruning_lab, name))} | {"Report.save": Report.save}

LETTERS = st.text(string.ascii_letters, min_size=1, max_size=8)
WITH_NUL = st.text(max_size=6).map(lambda s: s + "\0")
LONG_NAME = st.integers(256, 320).map(lambda n: "x" * n)
BLANK = st.sampled_from(["", " ", "\t"])
NO_PATH = st.one_of(st.integers(), st.floats(), st.booleans(), st.binary(max_size=6), st.lists(LETTERS, max_size=2),
                    st.dictionaries(LETTERS, st.integers(), max_size=2), st.just(np.zeros((2, 2))))
NO_DIRECTORY = st.one_of(st.just("../file"), LETTERS.map(lambda s: f"../file/{s}"),
                         LETTERS.map(lambda s: f"/proc/pruning-lab-{s}"), WITH_NUL, LONG_NAME, BLANK)
NOT_THERE = st.one_of(LETTERS.map(lambda s: f"../missing/{s}"), WITH_NUL, LONG_NAME, BLANK)
BACKSLASH = LETTERS.map(lambda s: f"a\\{s}")  # an override would read it as an escape

BAD_OVERRIDE = st.one_of(
    st.sampled_from(["=1", "=", "+=1", "@=1", "seed", "seed=range(0,3", "treatment=sertraline", "model.hidden=[]",
                     "pathology.sparsity=nan", "pathology.sparsity=-0.5", "force=abc"]),
    st.floats(min_value=1, allow_infinity=False).map(lambda v: f"pathology.sparsity={v!r}"),
    LETTERS.map(lambda s: f"nosuch{s}.key=1"),
    WITH_NUL.map(lambda s: f"pathology.sparsity={s}"),
)
BAD_OVERRIDES = st.one_of(
    st.text(max_size=10), st.integers(), st.none(), st.binary(max_size=4), st.dictionaries(LETTERS, st.integers()),
    st.lists(st.one_of(st.integers(), st.none(), st.binary(max_size=3), st.floats()), min_size=1, max_size=3),
    BAD_OVERRIDE.map(lambda o: [*TINY[:2], o]),
)
BAD_SEED = st.one_of(st.integers(max_value=-1), st.integers(min_value=4294967), st.floats(), st.booleans(),
                     st.none(), LETTERS, WITH_NUL, st.lists(st.integers(0, 3), min_size=1, max_size=2))
BAD_GRID = st.one_of(
    st.lists(BAD_SEED, min_size=1, max_size=2).map(lambda vs: {"seed": vs}),
    st.sampled_from([{}, [], {"seed": []}, {"seed": [0], "treatment": []}]),
    st.one_of(st.integers(), st.none(), BLANK, LETTERS).map(lambda k: {k: [0]}),
    st.one_of(st.integers(), st.none(), st.text(max_size=8), st.binary(max_size=4)),
    st.lists(st.lists(st.one_of(st.integers(), st.none()), min_size=1, max_size=2), min_size=1, max_size=2),
    st.lists(st.text(max_size=6), min_size=1, max_size=2),
    BAD_OVERRIDE.map(lambda o: [[o]]),
)
NOT_RESULTS = st.one_of(NOT_THERE, NO_PATH, st.none(), st.sampled_from(
    [pd.DataFrame({"x": [1]}), pd.DataFrame({"path": [1], "config_hash": ["a"]})]))

# (function, parameter): values it must refuse. Not here: a huge n_jobs (joblib's count, capped by
# the jobs), an existing directory for a store (served read-only), None where None is the default.
BAD = {
    ("job", "overrides"): BAD_OVERRIDES,
    ("simulate", "overrides"): BAD_OVERRIDES,
    ("simulate", "store"): st.one_of(NO_DIRECTORY, NO_PATH),
    ("sweep", "grid"): BAD_GRID,
    ("sweep", "overrides"): BAD_OVERRIDES,
    ("sweep", "store"): st.one_of(NO_DIRECTORY, NO_PATH, st.none(), BACKSLASH),
    ("sweep", "sweep_dir"): st.one_of(NO_DIRECTORY, NO_PATH, BACKSLASH),
    ("sweep", "n_jobs"): st.one_of(st.just(0), st.floats(), st.booleans(), st.none(), st.text(max_size=4),
                                   st.lists(st.integers(), max_size=2)),
    ("sweep", "launcher"): st.one_of(st.text(max_size=10).filter(lambda s: s not in LAUNCHERS), st.integers(),
                                     st.none(), st.booleans()),
    ("load_results", "path"): st.one_of(NOT_THERE, NO_PATH, st.none()),
    ("report", "results"): NOT_RESULTS,
    ("report", "paper"): st.one_of(st.integers().filter(lambda i: i not in (1, 2)), st.just(True), st.floats(),
                                   st.text(max_size=6).filter(lambda s: s not in ("1", "2", "none", "auto")),
                                   st.lists(st.integers(1, 2), max_size=2)),
    ("report", "ddof"): st.one_of(st.integers().filter(lambda i: i not in (0, 1)), st.booleans(), st.floats(),
                                  st.none(), st.text(max_size=4)),
    ("report", "figures"): st.one_of(st.integers(), st.floats(), st.none(), st.text(max_size=4),
                                     st.lists(st.booleans(), max_size=2)),
    ("report", "published_dir"): st.one_of(NOT_THERE, NO_PATH, st.sampled_from(["../empty", "../file", "../results"])),
    ("report", "control"): st.one_of(st.text(max_size=8).filter(lambda s: s not in ARMS), st.integers(), st.floats(),
                                     st.booleans(), st.binary(max_size=4), st.lists(st.sampled_from(ARMS), max_size=2)),
    ("Report.save", "out"): st.one_of(NO_DIRECTORY, NO_PATH, st.none()),
}

# every other argument good: the call fails on the bad one, or reaches a job and fails the test
GOOD = {
    "job": {"overrides": TINY},
    "simulate": {"overrides": TINY, "store": None},
    "sweep": {"grid": {"seed": [0]}, "overrides": TINY, "store": "store", "sweep_dir": "sweep", "n_jobs": 1,
              "launcher": "local"},
    "load_results": {"path": "../results"},
    "report": {"results": "../results", "paper": None, "ddof": 1, "figures": False, "published_dir": None,
               "control": None},
    "Report.save": {"out": "report"},
}


def parameters(call: str) -> list[str]:
    return [p for p in inspect.signature(PUBLIC[call]).parameters if p != "self"]


def test_every_parameter_of_the_public_api_has_bad_values():
    assert set(PUBLIC) == set(GOOD) == {"job", "simulate", "sweep", "load_results", "report", "Report.save"}
    assert sorted(BAD) == sorted((call, p) for call in PUBLIC for p in parameters(call))
    assert all(sorted(GOOD[call]) == sorted(parameters(call)) for call in PUBLIC)


def named_within(value) -> list[str]:
    """What a message may name instead of the argument: each override or key inside ``value`` (a
    list of overrides, a grid), as written or as a message shows it."""
    if isinstance(value, str):
        return [value, shown(value), value.lstrip("+~").partition("=")[0]]
    if isinstance(value, dict):
        return [n for k in value if isinstance(k, str) for n in named_within(k)]
    if isinstance(value, list):
        return [n for v in value for n in named_within(v)]
    return []


@pytest.mark.parametrize("call, param", sorted(BAD), ids=[f"{c}-{p}" for c, p in sorted(BAD)])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bad_value_of_any_parameter_is_refused_in_one_line_naming_it(scratch, call, param, data):
    value = data.draw(BAD[call, param], label=param)
    kwargs = {**GOOD[call], param: value}
    target = (lambda: Report("t").save(**kwargs)) if call == "Report.save" else (lambda: PUBLIC[call](**kwargs))
    also = named_within(value) if param in ("overrides", "grid") else []
    if call == "report" and param == "control":
        also = ["control"]
    refused(target, param, *also)
    if call == "sweep":
        assert not Path("store").exists() and not Path("sweep").exists()
