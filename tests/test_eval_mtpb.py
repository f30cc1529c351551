"""The MTPB harness (benchmarks/eval_mtpb.py): judging printed output, and whole runs in real kernels."""

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import eval_mtpb as M  # noqa: E402

def expected(problem: str, index: int):
    """The gold output of a real MTPB item."""
    by_id = {p["id"]: p for p in M.load_problems()}
    return by_id[problem]["outputs"][index]


def case(problem: str, index: int) -> M.Case:
    by_id = {p["id"]: p for p in M.load_problems()}
    return M.cases_of(by_id[problem])[index]


def passes(printed: str, gold) -> bool:
    return M.compare_output(printed, gold)[0]


# -- comparison, on real items' expected outputs --------------------------------------------------------------


def test_strings_must_match_exactly_spaces_included():
    gold = expected("86", 0)
    assert gold == " A Capital Letter Words"
    assert passes(" A Capital Letter Words\n", gold)
    assert not passes("A Capital Letter Words\n", gold)  # the leading space is part of the answer
    assert not passes("' A Capital Letter Words'\n", gold)  # a repr is not the string
    assert passes("False\n", expected("55", 0))  # 'False' as a string: print(False) writes it


def test_an_empty_string_needs_an_empty_print_not_silence():
    gold = expected("45", 1)
    assert gold == ""
    assert passes("\n", gold)
    ok, reason = M.compare_output("", gold)
    assert not ok and reason == "printed nothing"


def test_lists_from_python_numpy_and_tuples():
    gold = expected("1", 3)
    assert gold == [" ", "e", "j", "r", "y"]
    assert passes("[' ', 'e', 'j', 'r', 'y']\n", gold)
    assert passes("(' ', 'e', 'j', 'r', 'y')\n", gold)
    assert passes("[' ' 'e' 'j' 'r' 'y']\n", gold)  # numpy's array printing
    assert not passes("['e', 'j', 'r', 'y']\n", gold)
    assert not passes("[' ', 'j', 'e', 'r', 'y']\n", gold)  # order matters
    formatted = expected("2", 0)
    assert formatted[:2] == ["1.8", "3.6"]
    assert passes(repr(formatted) + "\n", formatted)
    assert not passes(repr([float(x) for x in formatted]) + "\n", formatted)  # strings were asked for
    assert passes("[]\n", expected("2", 2))


def test_numbers_ints_and_floats_within_the_tolerance():
    gold = expected("3", 0)
    assert gold == 7980
    assert passes("7980\n", gold) and passes("7980.0\n", gold) and passes("np.int64(7980)\n", gold)
    assert not passes("7981\n", gold) and not passes("[7980]\n", gold)
    lse = expected("65", 0)
    assert passes(f"{lse!r}\n", lse) and passes(f"{lse + 5e-7}\n", lse)
    assert not passes(f"{lse:.2f}\n", lse)
    assert passes("0.75\n", expected("85", 1))  # gold 0.74999999999
    assert passes("[np.float64(0.5), np.int64(2)]\n", [0.5, 2])
    assert passes("[[1. 2.]\n [3. 4.]]\n", [[1, 2], [3, 4]])  # a multi-line numpy print


def test_bools_and_none():
    gold = expected("11", 1)
    assert gold is True
    assert passes("True\n", gold) and not passes("1\n", gold) and not passes("False\n", gold)
    assert not passes("True\n", 1)  # a bool is not the int it equals
    none = expected("41", 1)
    assert none is None
    assert passes("None\n", none) and not passes("0\n", none)


def test_dicts_compare_keys_as_json_stored_them():
    gold = expected("89", 1)
    assert gold == {"5": ["apple", "peach"], "6": ["banana", "orange"]}
    assert passes("{5: ['apple', 'peach'], 6: ['banana', 'orange']}\n", gold)
    assert passes("{6: ['banana', 'orange'], 5: ['apple', 'peach']}\n", gold)  # a dict has no order
    assert not passes("{5: ['apple', 'peach']}\n", gold)
    assert not passes("{5: ['peach', 'apple'], 6: ['banana', 'orange']}\n", gold)


def test_the_last_print_counts_and_the_reason_says_what_was_printed():
    assert passes("debugging 1 2 3\n7980\n", 7980)
    ok, reason = M.compare_output("7980\ndone\n", 7980)
    assert not ok and reason == "wrong output: printed 'done', expected 7980"
    assert not passes("__import__('os').getcwd()\n", "x")  # nothing printed is ever evaluated as code
    assert M.read_printed("__import__('os').getcwd()") == []


def test_cases_fill_templates_like_the_reference():
    c = case("12", 0)
    assert c.turns[1].endswith('returns "{name} weighs {weight} kg".')  # {{...}} escapes stay braces
    assert c.turns[2] == 'Create an object named "player" with name "David Jones", age 25, height 175, weight 75.'
    assert len(M.cases_of({**next(p for p in M.load_problems() if p["id"] == "57")})) == 5  # 6 outputs, 5 inputs
    picked = [p["id"] for p in M.select_problems(M.load_problems(), 5)]
    assert picked == [p["id"] for p in M.select_problems(M.load_problems(), 5)] and len(set(picked)) == 5


# -- real kernels ---------------------------------------------------------------------------------------------

RIGHT = [
    'my_string = "abcdecadeCADE"',
    "my_string = my_string.lower()",
    "chars = set(my_string)",
    "chars = sorted(chars)",
    "print(chars)",
]


@pytest.mark.slow
def test_a_hand_written_solution_passes_and_a_wrong_one_fails_in_a_real_kernel():
    c = case("1", 1)
    assert c.expected == ["a", "b", "c", "d", "e"]
    settings = M.Settings(model=None, cell_timeout=20)

    good = M.run_case(c, settings, answers=RIGHT)
    assert good["passed"] and good["reason"] == "passed", good
    assert [t["code"] for t in good["turns"]] == RIGHT  # state carried from cell to cell in one kernel
    assert good["printed"] == "['a', 'b', 'c', 'd', 'e']\n"

    wrong = M.run_case(c, settings, answers=RIGHT[:3] + ["chars = sorted(chars, reverse=True)", "print(chars)"])
    assert not wrong["passed"] and wrong["reason"].startswith("wrong output: printed")

    broken = M.run_case(c, settings, answers=RIGHT[:4] + ["print(char)"])
    assert not broken["passed"] and broken["reason"] == "error: the final turn raised NameError: name 'char' is not defined"


@pytest.mark.slow
def test_runaway_code_is_stopped_at_the_cell_limit():
    c = case("1", 1)
    record = M.run_case(c, M.Settings(model=None, cell_timeout=2), answers=RIGHT[:2] + ["while True:\n    pass"] + RIGHT[3:])
    assert not record["passed"] and record["reason"] == "timeout: turn 3's code timed out after 2 s"
    assert record["seconds"] < 60


@pytest.mark.slow
def test_a_tiny_model_through_the_magics_gives_a_record_per_turn(tiny_model, tmp_path):
    out = tmp_path / "results"
    model = str(tiny_model("xglm"))
    code = M.main(["--model", model, "--problems", "1", "--inputs", "1", "--name", "tiny", "--out", str(out), "--show-prompt"])
    assert code == 0
    report = json.loads((out / "mtpb-tiny.json").read_text())
    assert report["complete"] and report["summary"]["n"] == 1
    (record,) = report["records"]
    c = case("1", 0)
    assert [t["request"] for t in record["turns"]] == list(c.turns)
    assert all(isinstance(t["code"], str) for t in record["turns"])
    assert any(t["code"].strip() for t in record["turns"])  # the random model writes something
    assert record["expected"] == c.expected and not record["passed"] and record["reason"]
    # The second turn's prompt holds the first request and its answer before the second request: the
    # conversation reached the model. (Later prompts drop the oldest cells: the tiny model reads 256 tokens.)
    first, second = record["turns"][:2]
    prompt = second["prompt"]
    assert c.turns[0] in prompt and prompt.index(c.turns[0]) < prompt.index(c.turns[1])
    assert first["code"].strip() in prompt
    assert "Pass rate" in (out / "mtpb-tiny.md").read_text()


@pytest.mark.slow
def test_the_kernel_memory_cap_turns_a_huge_allocation_into_a_memory_error():
    c = case("3", 0)
    answers = ["x = bytearray(4 * 2**30)", "minutes = 13", "print(2 * 3600 + minutes * 60)"]
    record = M.run_case(c, M.Settings(model=None, memory_limit_gb=2), answers=answers)
    assert record["turns"][0]["error"].startswith("MemoryError")
    assert record["passed"]  # the kernel lives on, as it would for a user
