"""Exact prompt strings and stop rules of every family: one wrong character silently ruins the answers."""

from __future__ import annotations

import pytest

from jupyter_codegen.errors import CodeGenError
from jupyter_codegen.formats import (
    FORMAT_NAMES,
    NOTEBOOK_STOP,
    SCRIPT_STOP,
    Prompt,
    PromptFormat,
    detect_format,
    format_by_name,
)

BAR = "\uff5c"  # DeepSeek's full-width bar
MARK = "\u2581"  # SentencePiece's space mark

# Special tokens as the families' tokenizers declare them (abridged where a family has dozens).
INCODER = dict(
    special_tokens={"<|endoftext|>", "<pad>"}, vocab={"<|endofmask|>", "def", *(f"<|mask:{i}|>" for i in range(4))}
)
SANTACODER = dict(
    special_tokens={"<|endoftext|>", "<fim-prefix>", "<fim-middle>", "<fim-suffix>", "<fim-pad>"},
    bos_token="<|endoftext|>",
    eos_token="<|endoftext|>",
)
STARCODER = dict(
    special_tokens={
        "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>",
        "<gh_stars>", "<issue_start>", "<jupyter_start>", "<jupyter_code>", "<jupyter_output>", "<empty_output>",
    },
    bos_token="<|endoftext|>",
    eos_token="<|endoftext|>",
)
QWEN = dict(
    special_tokens={
        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
        "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
    },
    eos_token="<|endoftext|>",
)
DEEPSEEK_BOS = f"<{BAR}begin{MARK}of{MARK}sentence{BAR}>"
DEEPSEEK_EOS = f"<{BAR}end{MARK}of{MARK}sentence{BAR}>"
DEEPSEEK = dict(
    special_tokens={
        DEEPSEEK_BOS, DEEPSEEK_EOS, f"<{BAR}fim{MARK}hole{BAR}>", f"<{BAR}fim{MARK}begin{BAR}>",
        f"<{BAR}fim{MARK}end{BAR}>", "<|EOT|>",
    },
    bos_token=DEEPSEEK_BOS,
    eos_token=DEEPSEEK_EOS,
    add_bos_token=True,
)
CODELLAMA = dict(
    special_tokens={"<s>", "</s>", "<unk>", f"{MARK}<PRE>", f"{MARK}<MID>", f"{MARK}<SUF>", f"{MARK}<EOT>"},
    bos_token="<s>",
    eos_token="</s>",
    add_bos_token=True,
)
CODEGEN2 = dict(
    special_tokens={"<|endoftext|>", "<sep>", "<eom>", "<pad>", "<mask_1>", "<mask_2>", "<mask_3>"},
    bos_token="<|endoftext|>",
    eos_token="<|endoftext|>",
)
GPT2 = dict(special_tokens={"<|endoftext|>"}, bos_token="<|endoftext|>", eos_token="<|endoftext|>")

# Three parts, two holes: A _ C _ E.
PARTS = ["A", "C", "E"]


def prompts(fmt: PromptFormat) -> tuple[Prompt, Prompt, Prompt]:
    """One hole, the first of two holes, the second of two holes after the first is filled with B."""
    return fmt.infill_prompt(["L", "R"], []), fmt.infill_prompt(PARTS, []), fmt.infill_prompt(PARTS, ["B"])


# -- causal masking -----------------------------------------------------------------------------------------


def test_causal_masking_prompts():
    fmt = detect_format(**INCODER)
    assert (fmt.name, fmt.infill, fmt.document, fmt.bos) == ("causal-masking", "causal-masking", "notebook", "<|endoftext|>")
    one, first, second = prompts(fmt)
    assert one.text == "<|endoftext|>L<|mask:0|>R<|mask:1|><|mask:0|>"
    assert first.text == "<|endoftext|>A<|mask:0|>C<|mask:1|>E<|mask:2|><|mask:0|>"
    # The filled span keeps its <|endofmask|>, as InCoder's reference infill() appends it.
    assert second.text == "<|endoftext|>A<|mask:0|>C<|mask:1|>E<|mask:2|><|mask:0|>B<|endofmask|><|mask:1|>"
    # A hole is inside one cell of a notebook document: a cell or text tag ends the fill, as <|endofmask|> does.
    assert one.stop == first.stop == second.stop == (
        "<|endofmask|>", "<|", "</cell>", "<text>", "<cell>", "</text>", "<|endoftext|>"
    )


def test_causal_masking_three_holes_keeps_every_filled_span():
    fmt = format_by_name("causal-masking")
    prompt = fmt.infill_prompt(["a", "b", "c", "d"], ["X", "Y"])
    assert prompt.text == (
        "<|endoftext|>a<|mask:0|>b<|mask:1|>c<|mask:2|>d<|mask:3|>"
        "<|mask:0|>X<|endofmask|><|mask:1|>Y<|endofmask|><|mask:2|>"
    )


def test_causal_masking_uses_the_tokenizers_bos_and_eos():
    fmt = detect_format(**INCODER, bos_token="<s>", eos_token="</s>")
    assert fmt.bos == "<s>"
    assert fmt.infill_prompt(["L", "R"], []).text.startswith("<s>L<|mask:0|>")
    assert fmt.infill_prompt(["L", "R"], []).stop == (
        "<|endofmask|>", "<|", "</cell>", "<text>", "<cell>", "</text>", "<|endoftext|>", "</s>"
    )


def test_causal_masking_continuation_is_notebook_style():
    fmt = detect_format(**INCODER)
    prompt = fmt.continuation("<| file ext=.ipynb:python |>\n<cell>\nx = 1\n</cell>\n<cell>\n")
    assert prompt.text == "<|endoftext|><| file ext=.ipynb:python |>\n<cell>\nx = 1\n</cell>\n<cell>\n"
    assert prompt.stop == ("</cell>", "<|", "<text>", "<cell>", "</text>", "<|endoftext|>")
    assert prompt.stop[: len(NOTEBOOK_STOP)] == NOTEBOOK_STOP


# -- fill in the middle ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tokenizer, name, layout, stop",
    [
        (SANTACODER, "santacoder-fim", "<fim-prefix>{p}<fim-suffix>{s}<fim-middle>", ("<|endoftext|>",)),
        (STARCODER, "starcoder-fim", "<fim_prefix>{p}<fim_suffix>{s}<fim_middle>", ("<|endoftext|>",)),
        (
            QWEN,
            "qwen-fim",
            "<|fim_prefix|>{p}<|fim_suffix|>{s}<|fim_middle|>",
            ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>"),
        ),
        (
            DEEPSEEK,
            "deepseek-fim",
            DEEPSEEK_BOS + f"<{BAR}fim{MARK}begin{BAR}>{{p}}<{BAR}fim{MARK}hole{BAR}>{{s}}<{BAR}fim{MARK}end{BAR}>",
            (DEEPSEEK_EOS,),
        ),
        (
            CODELLAMA,
            "codellama-fim",
            f"<s>{MARK}<PRE> {{p}}{MARK}<SUF>{{s}}{MARK}<MID>",
            (f"{MARK}<EOT>", " <EOT>", "<EOT>", "</s>"),
        ),
        (CODEGEN2, "codegen2-fim", "{p}<mask_1>{s}<|endoftext|><sep><mask_1>", ("<eom>", "<|endoftext|>")),
    ],
)
def test_fim_prompts(tokenizer, name, layout, stop):
    fmt = detect_format(**tokenizer)
    assert (fmt.name, fmt.infill, fmt.document, fmt.can_infill) == (name, "fim", "script", True)
    one, first, second = prompts(fmt)
    assert one.text == layout.format(p="L", s="R")
    # Hole k: the earlier holes filled in the prefix, the later ones left empty in the suffix.
    assert first.text == layout.format(p="A", s="CE")
    assert second.text == layout.format(p="ABC", s="E")
    assert one.stop == first.stop == second.stop == stop
    assert format_by_name(name, **tokenizer) == fmt


def test_fim_third_hole_prefix_holds_all_filled_spans():
    fmt = format_by_name("starcoder-fim")
    prompt = fmt.infill_prompt(["a", "b", "c", "d"], ["X", "Y"])
    assert prompt.text == "<fim_prefix>aXbYc<fim_suffix>d<fim_middle>"


def test_qwen_stops_at_an_instruct_eos_too():
    fmt = detect_format(**{**QWEN, "eos_token": "<|im_end|>"})
    assert fmt.infill_prompt(["L", "R"], []).stop == ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>")


def test_bos_is_written_only_when_the_tokenizer_adds_it():
    assert detect_format(**{**DEEPSEEK, "add_bos_token": False}).infill_prompt(["L", "R"], []).text.startswith(
        f"<{BAR}fim{MARK}begin{BAR}>"
    )
    assert detect_format(**STARCODER).bos == ""


def test_codellama_detected_from_vocab_pieces():
    vocab = {"<s>": 1, "</s>": 2, f"{MARK}<PRE>": 32007, f"{MARK}<SUF>": 32008, f"{MARK}<MID>": 32009,
             f"{MARK}<EOT>": 32010, f"{MARK}def": 822}
    fmt = detect_format({"<s>", "</s>", "<unk>"}, vocab.keys(), "<s>", "</s>", True)
    assert fmt.name == "codellama-fim"
    prompt = fmt.infill_prompt(["def f(x):\n    ", "\n    return y\n"], [])
    assert prompt.text == f"<s>{MARK}<PRE> def f(x):\n    {MARK}<SUF>\n    return y\n{MARK}<MID>"
    assert prompt.stop == (f"{MARK}<EOT>", " <EOT>", "<EOT>", "</s>")


def test_codellama_with_plain_sentinels_writes_them_as_spelled():
    fmt = detect_format({"<s>", "</s>", "<PRE>", "<SUF>", "<MID>", "<EOT>"}, (), "<s>", "</s>", True)
    prompt = fmt.infill_prompt(["L", "R"], [])
    assert prompt.text == "<s><PRE> L <SUF>R <MID>"
    assert prompt.stop == ("<EOT>", "</s>")


def test_fim_continuation_is_script_style():
    fmt = detect_format(**CODELLAMA)
    prompt = fmt.continuation("# load the data\nimport pandas as pd\n")
    assert prompt.text == "<s># load the data\nimport pandas as pd\n"
    assert prompt.stop == ("\n\n\n", "\n#", '\n"""', "\n'''", f"{MARK}<EOT>", " <EOT>", "<EOT>", "</s>")


# -- left to right --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokenizer", [GPT2, {"special_tokens": ()}])
def test_no_infill_tokens_means_left_to_right(tokenizer):
    fmt = detect_format(**tokenizer)
    assert (fmt.name, fmt.infill, fmt.document, fmt.bos, fmt.can_infill) == (
        "left-to-right", "left-to-right", "script", "", False
    )
    with pytest.raises(CodeGenError, match="cannot fill a hole"):
        fmt.infill_prompt(["L", "R"], [])


def test_left_to_right_continuation():
    prompt = detect_format(**GPT2).continuation("# add two numbers\ndef add(a, b):\n")
    assert prompt == Prompt("# add two numbers\ndef add(a, b):\n", SCRIPT_STOP + ("<|endoftext|>",))
    assert format_by_name("left-to-right").continuation("x").stop == SCRIPT_STOP


def test_left_to_right_writes_a_llama_bos():
    fmt = detect_format({"<s>", "</s>", "<unk>"}, bos_token="<s>", eos_token="</s>", add_bos_token=True)
    assert fmt.continuation("x = ").text == "<s>x = "


def test_partial_sentinels_do_not_trigger_detection():
    assert detect_format({"<|endoftext|>"}, {"<PRE>", "<|mask:0|>", "<mask_1>"}).name == "left-to-right"


# -- errors and names -----------------------------------------------------------------------------------------


def test_format_by_name_covers_every_name():
    assert {format_by_name(name).name for name in FORMAT_NAMES} == set(FORMAT_NAMES)
    assert format_by_name(" Qwen-FIM ").name == "qwen-fim"
    assert format_by_name("auto", **CODEGEN2).name == "codegen2-fim"


def test_format_by_name_rejects_unknown_names():
    with pytest.raises(CodeGenError) as error:
        format_by_name("llama")
    message = str(error.value)
    assert "'llama'" in message and all(name in message for name in FORMAT_NAMES)
    assert message.count(".") == 1 and message.endswith(".")


@pytest.mark.parametrize("name", ["causal-masking", "starcoder-fim"])
def test_hole_count_mistakes_are_caught(name):
    fmt = format_by_name(name)
    with pytest.raises(ValueError):
        fmt.infill_prompt(["only"], [])
    with pytest.raises(ValueError):
        fmt.infill_prompt(PARTS, ["B", "D"])
    with pytest.raises(TypeError):
        fmt.infill_prompt("AC", [])


def test_formats_are_immutable_values():
    fmt = format_by_name("santacoder-fim")
    with pytest.raises(AttributeError):
        fmt.bos = "<s>"  # type: ignore[misc]
    assert fmt == format_by_name("santacoder-fim")


def test_causal_masking_refuses_more_holes_than_the_tokenizer_has_sentinels():
    fmt = detect_format(**INCODER)  # <|mask:0|> .. <|mask:3|>: three holes at most
    assert fmt.infill_prompt(["a", "b", "c", "d"], []).text.endswith("d<|mask:3|><|mask:0|>")
    with pytest.raises(CodeGenError, match="at most 3 holes"):
        fmt.infill_prompt(["a", "b", "c", "d", "e"], [])
