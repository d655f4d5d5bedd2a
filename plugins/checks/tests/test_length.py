"""The length check: truncation, prompt limits, length against the reference."""

from __future__ import annotations

import pytest
from workbench_checks.length import LengthCheck, detect_truncation, measure, prompt_limits

from workbench import Record

ANSWER = (
    "Photosynthesis turns light into chemical energy. Plants take in carbon dioxide and water. "
    "Using sunlight, they make glucose and release oxygen. The glucose feeds the plant."
)  # 4 sentences, 26 words


def check(output: str, prompt: str = "Explain it.", **fields):
    options = fields.pop("options", {})
    (f,) = LengthCheck(options).run([Record("r", prompt, output, **fields)])
    return f


# -- truncation ---------------------------------------------------------------------------------
def test_finish_reason_length_is_truncation():
    f = check("A complete sentence.", finish_reason="length", max_new_tokens=8)
    assert f.flagged and f.score >= 0.9 and "token limit at max_new_tokens=8" in f.message


def test_eos_and_stop_are_never_truncation():
    cut = "Plants take in carbon dioxide and"
    assert check(cut).flagged
    assert not check(cut, finish_reason="eos").flagged
    assert not check(cut, finish_reason="stop").flagged


@pytest.mark.parametrize(
    "text",
    [
        ANSWER[:-40],  # mid-sentence
        "Plants need light because the",  # a dangling function word
        "The steps are:\n1. Boil the water.\n2. Add the pasta.\n3. Stir it",  # the others end
        "Here is the code:\n```python\nprint('hi')\n",  # unclosed fence
        "The list (apples, pears, plums",  # unclosed bracket
        "Roses are red,\nviolets are blue,\nsugar is sweet,\nand so are yo",  # a word cut in half
    ],
)
def test_text_that_stops_mid_sentence_is_truncated(text):
    f = check(text)
    assert f.flagged and "truncated" in f.message
    ((a, b),) = f.spans
    assert b == len(text) and a < b


@pytest.mark.parametrize(
    "text",
    [
        ANSWER,
        "Paris",  # a bare answer
        'She said: "It\'s done."',
        "Shopping list:\n- Apples\n- Pears\n- Plums",  # list items without periods
        "Roses are red\nViolets are blue\nSugar is sweet\nAnd so are you",  # verse
        "Great news today! 🎉 #launch #product",  # hashtags and emoji
        "See https://example.com/docs/",
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "Thanks for your help.\n\nBest regards,\nJane Doe",
        "Answer: 42",
    ],
)
def test_complete_text_is_not_truncated(text):
    assert detect_truncation(text) is None, text
    assert not check(text).flagged


def test_truncation_can_be_switched_off():
    assert not check("Plants need light because the", options={"detect_truncation": False}).flagged


# -- prompt limits ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("Explain it in at most 50 words.", [("words", "max", 50)]),
        ("Keep your answer under 100 words.", [("words", "max", 100)]),
        ("Reply in no more than three sentences.", [("sentences", "max", 3)]),
        ("Answer in 20 words or less.", [("words", "max", 20)]),
        ("Limit your response to 50 words.", [("words", "max", 50)]),
        ("Do not exceed 120 characters.", [("characters", "max", 120)]),
        ("Do not write more than 30 words.", [("words", "max", 30)]),
        ("Use a maximum of 3 sentences.", [("sentences", "max", 3)]),
        ("Use no more than 5 bullet points.", [("bullets", "max", 5)]),
        ("Word limit: 80", [("words", "max", 80)]),
        ("at most twenty-five words", [("words", "max", 25)]),
        ("Keep it to one paragraph.", [("paragraphs", "max", 1)]),
        ("Give a one-word answer.", [("words", "max", 1)]),
        ("Answer in one word.", [("words", "max", 1)]),
        ("Describe the moon in one sentence.", [("sentences", "max", 1)]),
        ("Describe it in a single sentence.", [("sentences", "max", 1)]),
        ("Summarize it in two sentences.", [("sentences", "target", 2)]),
        ("Write a 100-word story.", [("words", "target", 100)]),
        ("Write a five-sentence story.", [("sentences", "target", 5)]),
        ("Describe a cow in 100 words.", [("words", "target", 100)]),
        ("Write 2-3 paragraphs.", [("paragraphs", "max", 3), ("paragraphs", "min", 2)]),
        ("Write between 50 and 100 words.", [("words", "max", 100), ("words", "min", 50)]),
        ("Write at least 200 words.", [("words", "min", 200)]),
        ("Describe it in a few words.", [("words", "vague", 40)]),
        ("Respond in a couple of sentences.", [("sentences", "vague", 4)]),
        ("Write it in no longer than a paragraph.", [("paragraphs", "max", 1)]),
        ("Keep answers to a sentence.", [("sentences", "max", 1)]),
        ("Give a one-line summary.", [("lines", "max", 1)]),
        ("Describe the city (50 words).", [("words", "target", 50)]),
        ("Write around 50 words.", [("words", "target", 50)]),
        ("Write 500+ words.", [("words", "min", 500)]),
        ("Maximum length: 50 words.", [("words", "max", 50)]),
        ("Answer in ≤ 50 words.", [("words", "max", 50)]),
        ("Reply in at most 2 short paragraphs.", [("paragraphs", "max", 2)]),
        ("Respond in two sentences max.", [("sentences", "max", 2)]),
        # not limits on the answer
        ("Compose two tweets (240 characters max each).", []),
        ("How often does a word appear in a sentence?", []),
        ("When do you use a comma in a sentence?", []),
        ("Explain photosynthesis.", []),
    ],
)
def test_prompt_limits_are_read(prompt, expected):
    got = [(lim.unit, lim.kind, lim.value) for lim in prompt_limits(prompt)]
    assert got == expected


def test_over_a_word_limit_is_flagged_with_a_span_from_the_first_extra_word():
    f = check(ANSWER, prompt="Explain photosynthesis in at most 10 words.")
    assert f.flagged and "over the prompt's limit" in f.message and "26 words" in f.message
    ((a, b),) = f.spans
    assert ANSWER[a:].split()[0] == ANSWER.split()[10] and b == len(ANSWER)


@pytest.mark.parametrize(
    "prompt",
    [
        "Explain photosynthesis in at most 30 words.",
        "Explain photosynthesis in no more than four sentences.",
        "Explain photosynthesis in one paragraph.",
        "Explain photosynthesis in under 200 characters. Be brief.",  # 173 characters
        "Explain photosynthesis in about 25 words.",
    ],
)
def test_a_satisfied_limit_is_not_flagged(prompt):
    assert not check(ANSWER, prompt=prompt).flagged


@pytest.mark.parametrize(
    "prompt, needle",
    [
        ("Explain photosynthesis in one sentence.", "4 sentences"),
        ("Give a one-word answer: what do plants make?", "26 words"),
        ("Explain it in under 100 characters.", "characters"),
        ("Explain it in at least 60 words.", "too short"),
        ("Use no more than 2 bullet points.", "3 bullets"),
    ],
)
def test_a_broken_limit_is_flagged(prompt, needle):
    output = ANSWER if "bullet" not in prompt else "- light\n- water\n- air"
    f = check(output, prompt=prompt)
    assert f.flagged and needle in f.message


def test_sentences_are_counted_by_punctuation_not_lines_and_code_does_not_count():
    assert measure("Three uses:\n1. Food\n2. Fuel\n3. Shelter", "sentences")[0] == 1
    assert measure("Uses:\n1. Food.\n2. Fuel.\n3. Shelter.", "sentences")[0] == 3
    assert measure("A title\n\nOne sentence. Two sentences.", "sentences")[0] == 2
    code = "Run this.\n```python\nx = 1. \ny = 2. \n```\nDone."
    assert measure(code, "sentences")[0] == 2


def test_a_hard_word_limit_tolerates_a_few_percent():
    text = " ".join(["word"] * 102) + "."
    assert not check(text, prompt="Answer in under 100 words.").flagged
    assert check(text, prompt="Answer in under 100 words.", options={"hard_tolerance": 0}).flagged


def test_briefly_only_catches_gross_excess():
    long = ("This sentence adds more and more words to the answer. " * 40).strip()
    assert not check(ANSWER, prompt="Briefly explain photosynthesis.").flagged
    assert check(long, prompt="Briefly explain photosynthesis.").flagged
    assert not check(long, prompt="Explain photosynthesis.").flagged


# -- reference ----------------------------------------------------------------------------------
def test_far_longer_than_the_reference_is_flagged():
    rambling = ANSWER + " " + ANSWER.replace("Plants", "Trees")
    f = check(rambling, reference=ANSWER)
    assert f.flagged and "reference's length" in f.message
    ((a, b),) = f.spans
    assert b == len(rambling) and 0 < a < len(rambling)
    assert not check(ANSWER, reference=ANSWER).flagged


def test_short_references_get_slack_and_too_short_is_flagged():
    assert not check("The capital of France is Paris.", reference="Paris").flagged
    f = check("Light.", reference=ANSWER)
    assert f.flagged and "much shorter than the reference" in f.message


def test_reference_ratio_options():
    rambling = ANSWER + " " + ANSWER
    assert check(rambling, reference=ANSWER).flagged
    assert not check(rambling, reference=ANSWER, options={"max_ratio_to_reference": 2.5}).flagged


def test_options_are_validated():
    from workbench.errors import PluginError

    with pytest.raises(PluginError, match="max_ratio_to_reference"):
        LengthCheck({"max_ratio_to_reference": 0.5})


@pytest.mark.parametrize(
    "prompt, text",
    [
        ("List five fruits.", "1. Apple\n2. Pear\n3. Plum"),  # stops at item 3 of 5
        ("Give a recipe.", "Ingredients:\n- 2 cups flour\n- 1 cup milk\n- 3/4"),  # a bare quantity
        ("Write a poem.", "The sun goes down,\nthe stars come out,\nthe night is long,\nand we"),
        ("Write a poem.", "Silence fills the night,\nAn eerie calm in sight,\nThe moon, a silver"),
        ("Make a table.", "| year | sales |\n|---|---|\n| 2020 | 5 |\n| 2021"),
    ],
)
def test_structured_text_cut_short_is_truncated(prompt, text):
    assert check(text, prompt=prompt).flagged


def test_a_full_list_of_the_asked_size_is_not_truncated():
    assert not check("1. Apple\n2. Pear\n3. Plum", prompt="List three fruits.").flagged
    assert not check("1. Apple\n2. Pear\n3. Plum", prompt="List some fruits.").flagged


# -- real-output rules: short references, limit phrasings, minimums, paragraph separators ----------
def test_a_short_reference_says_nothing_about_an_answers_length():
    # a QA answer in a full sentence against a one-to-three-word gold answer is fine
    answer = "The magazine that was started first is Arthur's Magazine, founded in 1844."
    assert not check(answer, reference="Arthur's Magazine", finish_reason="stop").flagged
    assert not check(answer, reference="1844", finish_reason="stop").flagged
    # a reference long enough to say how long an answer should be is still compared
    long_ref = "Arthur's Magazine was started first, in 1844, well before First for Women."
    rambling = " ".join([answer] * 6)
    f = check(rambling, reference=long_ref, finish_reason="stop")
    assert f.flagged and "reference" in f.message


LIMIT_PHRASINGS = [
    # (prompt, unit, kind, value)
    ("Describe a rainy morning in at most 30 words.", "words", "max", 30),
    ("Explain it in no more than two sentences.", "sentences", "max", 2),
    ("Write a 2000 word essay on climate change.", "words", "target", 2000),
    ("Write a 300-word essay about bees.", "words", "target", 300),
    ("Need 300 words on the causes of World War I.", "words", "target", 300),
    ("Give me 100 words about the first trains.", "words", "target", 100),
    ("Give me exactly three bullet points on saving water.", "bullets", "target", 3),
    ("Give me 5 bullet points about breakfast.", "bullets", "target", 5),
    ("Write two paragraphs about autumn, separated by ***.", "paragraphs", "target", 2),
    ("Write a tweet (max 280 characters) about a bakery.", "characters", "max", 280),
    ("Write a limerick about a frog, 5 lines only.", "lines", "max", 5),
    ("Tell me why the sky is blue, keeping it to 2 sentences.", "sentences", "max", 2),
    ("Write a two-sentence horror story.", "sentences", "target", 2),
    ("Write 3 or more bullet points on tea.", "bullets", "min", 3),
    ("List at least three points about walking.", "bullets", "min", 3),
    ("Explain desert plants in no fewer than 200 words.", "words", "min", 200),
    ("Write no less than 5 sentences about rain.", "sentences", "min", 5),
    ("Write at least 150 words about sleep.", "words", "min", 150),
]


@pytest.mark.parametrize("prompt,unit,kind,value", LIMIT_PHRASINGS)
def test_limits_are_read_in_common_phrasings(prompt, unit, kind, value):
    got = [(lim.unit, lim.kind, lim.value) for lim in prompt_limits(prompt)]
    assert (unit, kind, value) in got, got


@pytest.mark.parametrize(
    "prompt",
    [
        "List at least three points about walking.",
        "Explain desert plants in no fewer than 200 words.",
        "Write no less than 5 sentences about rain.",
    ],
)
def test_at_least_is_a_minimum_never_a_maximum(prompt):
    assert all(lim.kind == "min" for lim in prompt_limits(prompt))
    long = " ".join(f"Point number {i} is a fine sentence about it." for i in range(60))
    assert not check(long, prompt, finish_reason="stop").flagged
    f = check("Walking is good.", prompt, finish_reason="stop")
    assert f.flagged and "too short" in f.message


def test_points_written_as_paragraphs_meet_a_minimum_of_points():
    text = "First, it is cheap.\n\nSecond, it is healthy.\n\nThird, it clears the mind."
    assert not check(
        text, "List at least three points about walking.", finish_reason="stop"
    ).flagged


def test_an_amount_asked_for_is_also_a_floor():
    essay = " ".join(["Climate change warms the planet and raises the seas."] * 18)  # 162 words
    f = check(essay, "Write a 2000 word essay on climate change.", finish_reason="stop")
    assert f.flagged and "too short" in f.message
    two = "- Turn off the tap.\n- Fix leaks."
    f = check(two, "Give me exactly three bullet points on saving water.", finish_reason="stop")
    assert f.flagged
    three = two + "\n- Take short showers."
    assert not check(
        three, "Give me exactly three bullet points on saving water.", finish_reason="stop"
    ).flagged
    # "answer in N sentences" bounds the form: fewer meets it
    assert not check("It is blue.", "Answer in 3 sentences.", finish_reason="stop").flagged


@pytest.mark.parametrize("sep", ["***", "---", "* * *"])
def test_paragraph_dividers_are_not_paragraphs(sep):
    text = f"Leaves fall and turn red.\n\n{sep}\n\nThe air grows cold and crisp."
    prompt = f"Write two paragraphs about autumn, separated by {sep}."
    assert measure(text, "paragraphs", sep)[0] == 2
    assert not check(text, prompt, finish_reason="stop").flagged
    three = text + f"\n\n{sep}\n\nWinter follows soon after."
    f = check(three, prompt, finish_reason="stop")
    assert f.flagged and "3 paragraphs" in f.message


def test_inline_separator_named_by_the_prompt_splits_paragraphs():
    text = "Leaves fall and turn red. *** The air grows cold. *** Snow comes."
    assert measure(text, "paragraphs", "***")[0] == 3


@pytest.mark.parametrize(
    "char",
    ["a", "!", "😀", "7", " ", ".", "?!", "1. be\n", "|\n"],
    ids=[
        "letters",
        "punctuation",
        "emoji",
        "digits",
        "whitespace",
        "dots",
        "mixed-punct",
        "list-lines",
        "symbol-lines",
    ],
)
def test_long_runs_of_one_character_class_take_linear_time(char):
    import time

    text = "Sure! " + char * (1_000_000 // len(char.encode()))
    prompts = [
        "Answer in at most 50 words.",
        "Answer in 3 sentences.",
        "Write two paragraphs separated by ***.",
        "Give 3 bullet points.",
        "Answer in under 100 characters.",
    ]
    t0 = time.perf_counter()
    for prompt in prompts:
        check(text, prompt)
    check(text, "Say hi.", finish_reason="length")
    assert time.perf_counter() - t0 < 20  # about a second each on one core; quadratic was hours


@pytest.mark.parametrize(
    "prompt,value",
    [
        ("Describe the bees. Don't use more than 2 sentences.", 2),
        ("Don't go past 3 sentences when you describe rain.", 3),
        ("It should not run past 2 sentences.", 2),
    ],
)
def test_negated_more_than_and_go_past_are_maximums(prompt, value):
    assert [(lim.unit, lim.kind, lim.value) for lim in prompt_limits(prompt)] == [
        ("sentences", "max", value)
    ]
    f = check("One. Two is here. Three is here. Four is here. Five.", prompt, finish_reason="stop")
    assert f.flagged and "over the prompt's limit" in f.message


def test_an_explicit_word_limit_outranks_keep_it_short():
    text = " ".join(["Bees make honey in the hive."] * 45)  # 270 words
    prompt = "Please keep it short, 300 words at most, on bees."
    assert not check(text, prompt, finish_reason="stop").flagged


@pytest.mark.parametrize("output", ["", " ", "\n\n", "\t \u00a0\n"])
def test_an_empty_or_whitespace_output_is_a_length_finding(output):
    for finish in ("eos", "stop", None):
        f = check(output, prompt="What is 2 + 3?", reference="5", finish_reason=finish)
        assert f.flagged and f.score == 1.0 and f.category == "length", (output, finish)
        assert f.message.endswith("output: nothing answered") and f.evidence["kinds"] == ["empty"]
    assert not check(output, options={"flag_empty": False}, finish_reason="eos").flagged
    assert not check("5", prompt="What is 2 + 3?", reference="5", finish_reason="eos").flagged
