"""The repetition check on texts written for the tests (the benchmark measures it on real data)."""

from __future__ import annotations

import pytest
from workbench_checks.repetition import RepetitionCheck

from workbench import Record


def check(output: str, prompt: str = "Tell me about it.", **options):
    (f,) = RepetitionCheck(options).run([Record("r", prompt, output)])
    return f


def covered(f, text: str) -> list[str]:
    return [text[a:b] for a, b in f.spans]


def test_word_stutter_is_flagged_with_its_span():
    text = "The cat sat on the the the the mat."
    f = check(text)
    assert f.flagged and f.category == "repetition" and f.severity in ("medium", "high")
    assert covered(f, text) == ["the the the"]  # the copies after the first
    assert "stutter" in f.message


def test_doubled_word_is_flagged_but_legitimate_doubles_are_not():
    assert check("I think the the answer is four.").flagged
    assert not check("I think the the answer is four.", flag_doubled_words=False).flagged
    assert not check("She had had enough of it, and that that was final.").flagged
    # across a sentence or a line, a repeated word is not a stutter
    assert not check("Give it. It works.").flagged
    assert not check("Notes:\nE E F G\nG F E D").flagged


def test_sentence_loop_is_flagged_and_spans_cover_the_loop():
    text = "Paris is lovely. I love Paris. I love Paris. I love Paris. I love Paris."
    f = check(text)
    assert f.flagged and f.score >= 0.85
    (span,) = covered(f, text)
    assert span == "I love Paris. I love Paris. I love Paris"  # copies 2-4; the first stays
    assert "looping" in f.message


def test_phrase_looping_at_the_tail():
    text = "The recipe needs flour, sugar and eggs and so on and so on and so on and so on"
    f = check(text)
    assert f.flagged
    assert "and so on and so on and so on" in covered(f, text)[0]


def test_duplicated_paragraph_far_apart():
    para = "Regular exercise strengthens the heart and improves the mood of most people."
    text = f"{para}\n\nSleep matters too, and so does a balanced diet.\n\n{para}"
    f = check(text)
    assert f.flagged and "duplicated" in f.message
    assert covered(f, text) == [para.rstrip(".")]


def test_a_whole_sentence_said_twice_in_a_row():
    text = "We leave at dawn tomorrow morning. We leave at dawn tomorrow morning."
    assert check(text).flagged


@pytest.mark.parametrize(
    "text",
    [
        # a list whose items share words
        "1. Increase the price of apples.\n2. Increase the price of pears.\n"
        "3. Increase the price of plums.",
        # code repeats statement shapes
        "```python\nx = x + 1\nx = x + 1\nx = x + 1\nprint(x)\n```",
        "switch (op) {\ncase '+': r = a + b; break;\ncase '-': r = a - b; break;\n"
        "case '*': r = a * b; break;\ncase '/': r = a / b; break;\n}",
        # restating the question is not a loop
        "The capital of France is Paris. Paris, the capital of France, is on the Seine.",
        # numbers
        "The matrix is [[1, 1, 1], [0, 0, 0]] and the vector is (1, 1, 1).",
        "Hello.",
        "",
    ],
)
def test_natural_text_is_not_flagged(text):
    f = check(text)
    assert not f.flagged, f.message
    assert 0.0 <= f.score < 0.5


def test_a_chorus_in_a_song_is_not_degeneration():
    chorus = "Oh we sing all night, under the city light,\nwe sing until the morning comes."
    song = (
        f"Verse 1:\nWalking down the road alone\nthinking of a place called home\n\n"
        f"Chorus:\n{chorus}\n\nVerse 2:\nRain is falling on the street\nstrangers that I "
        f"never meet\n\nChorus:\n{chorus}"
    )
    assert not check(song, prompt="Write a song about the city.").flagged
    # the same copy in prose is a duplicated block
    prose = f"{chorus} It was a long day at work and then a quiet evening at home. {chorus}"
    assert check(prose, prompt="Describe your day.").flagged


def test_options_tune_the_thresholds():
    text = "It is good. It is good. It is good."  # three copies of a short sentence
    assert check(text).flagged
    assert not check(text, min_loop_copies=4).flagged
    stutter = "We went to to to the shop."
    assert check(stutter).flagged
    assert check(stutter, min_stutter=4, flag_doubled_words=False).score < 0.5


def test_one_finding_per_record_in_a_batch():
    recs = [Record(str(i), "p", t) for i, t in enumerate(["a a a a", "fine text.", "x"])]
    found = list(RepetitionCheck().run(recs))
    assert [f.record_id for f in found] == ["0", "1", "2"]
    assert [f.flagged for f in found] == [True, False, False]


def test_non_ascii_text_keeps_offsets_right():
    text = "İstanbul est belle. Çok güzel çok güzel çok güzel çok güzel."
    f = check(text)
    assert f.flagged
    assert covered(f, text)[0].lower().startswith("çok güzel")


def test_punctuated_word_loops_and_held_characters():
    assert check("I said no, no, no, no to him.").flagged
    f = check("It was sooooooooooooo good")
    assert f.flagged and "character held down" in f.message
    assert check("Great!!!!!!!!").flagged
    assert not check("It was so good!!").flagged


@pytest.mark.parametrize(
    "text",
    [
        "We wake up early in the morning. morning. Then we eat.",
        "The report is due (due Friday) at noon.",
        "She bought a a new bicycle yesterday.",
        "It happened in 2021 2021 if I remember well.",
    ],
)
def test_doubled_tokens_with_punctuation_or_articles(text):
    assert check(text).flagged


@pytest.mark.parametrize(
    "text",
    [
        "Buy toilet paper, paper towels and soap.",
        "Countries: Chad, South Sudan, Sudan, Swaziland.",
        "Play these notes:\nE E F# G#\nG# F# E F# G#\nE E F# G#",
        "Knock knock! Who's there?",
        "The matrix [[1 1], [1 1]] is singular.",
    ],
)
def test_natural_doubles_are_not_flagged(text):
    assert not check(text).flagged


def test_a_whole_list_copied_after_itself():
    items = "\n".join(
        f"- {w}" for w in "NASA Rocket Mission Galaxy Planets Moon Mars Comet".split()
    )
    text = f"Words:\n{items}\n\n{items}"
    f = check(text)
    assert f.flagged
    assert covered(f, text)[0].startswith("NASA") and covered(f, text)[0].endswith("Comet")


# -- real-output rules: token runs, list loops, quotes, choruses, code ------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "😊" * 40,  # one emoji to the token limit, no words at all
        "Great! " + "🎉 " * 30,
        "The answer is " + "7" * 120,
        "0 0 0 0 0 0 0 0 0 0 0 0 0 0",
        "Wow" + "!" * 50,
        "Wait" + ";" * 80,
        "1. 1. 1. 2. 2.",
        "It will output: `1000000110000011000001100001100001100001100001100001100001`",
        "Registration form:\n" + "|\n" * 30,
    ],
    ids=[
        "emoji",
        "spaced-emoji",
        "digit",
        "number",
        "bang",
        "semicolon",
        "markers",
        "pattern",
        "pipes",
    ],
)
def test_runs_of_one_token_are_flagged_at_any_length(text):
    f = check(text)
    assert f.flagged, f.message


def test_numbered_list_whose_items_repeat_one_word_is_a_loop():
    text = "Here are some ideas:\n" + "\n".join(f"{i}. be" for i in range(1, 54))
    assert check(text).flagged
    assert check("Sure! " + " ".join(f"{i}. be" for i in range(1, 30))).flagged
    assert check("Acrostic:\n" + "\n".join(f"{i}. Inspire" for i in range(1, 12))).flagged


def test_list_items_that_repeat_the_same_content_are_flagged():
    items = ["1 lb of bread", "1 lb of cheese", "1 lb of vegetables"] * 4
    text = "Ingredients:\n" + "\n".join(f"- {x}" for x in items)
    assert check(text).flagged
    two = (
        "1. Both of them were soldiers and filmmakers in the war.\n"
        "2. Both of them were actors and filmmakers.\n"
        "3. Both of them were soldiers and filmmakers in the war."
    )
    assert check(two).flagged


def test_table_rows_looping_are_flagged():
    text = "| Animal | Speed |\n| --- | --- |\n| Dog | 60 |\n" + "| Fish | 15 |\n" * 6
    assert check(text).flagged


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(f"{i}. {w}" for i, w in enumerate("apple pear plum kiwi fig lime".split(), 1)),
        "Rating: ⭐⭐⭐⭐⭐\nGreat product, would buy again.",
        "Title\n" + "-" * 60 + "\nSome text under the title.",
        "A billion is 1000000000 and a trillion is 1000000000000.",
        "1. The Art of Friendship\n2. The Unyielding Road\n3. The Unwaftable Road",
    ],
    ids=["distinct-items", "stars", "divider", "big-numbers", "shared-frame"],
)
def test_distinct_items_ratings_dividers_and_numbers_are_not_degeneration(text):
    assert not check(text).flagged


def test_a_span_quoted_twice_is_not_degeneration():
    span = "the quick brown fox jumps over the lazy dog near the old red barn every morning"
    text = f'The phrase "{span}" is a pangram. People type "{span}" to test keyboards.'
    assert not check(text).flagged


def test_a_labelled_chorus_in_a_song_is_not_degeneration():
    chorus = (
        "Chorus:\nOh we sing together all night long under the silver moon\n"
        "We sing until the morning comes and the birds wake up\n"
        "Oh we sing together all night long, my friends, my friends"
    )
    text = (
        "Verse 1:\nThe road is long and the night is cold\nI walk alone\n\n"
        + chorus
        + "\n\nVerse 2:\nThe sun is up and the birds are loud\nI walk with you\n\n"
        + chorus
        + "\n\n"
        + chorus
    )
    assert not check(text, "Write a song about friendship.").flagged
    assert not check(text).flagged  # the label alone says it is a chorus


def test_code_and_example_blocks_said_twice_are_not_degeneration():
    block = "```python\nx = load('a.csv')\nresult = model.fit(x, epochs=10, verbose=True)\n```"
    text = f"Example:\n{block}\nAnother example:\n{block}"
    assert not check(text).flagged


def test_doubled_phrases_and_hyphenated_words_stutter():
    assert check("directed by Yeon Sang-ho Yeon Sang-ho and starring Gong Yoo.").flagged
    assert check("released on DVD, Blu-ray, and Blu-ray Blu-ray.").flagged
    assert check("a branch of the House of House of Cumberland").flagged
    assert not check("We went to New York, then York, then home.").flagged


@pytest.mark.parametrize(
    "unit",
    ["a", "!", "😀", "7", " ", ".", "?!", "be ", "1. be\n", "|\n", "https://x.io/a-b?q=1 "],
    ids=[
        "letters",
        "punctuation",
        "emoji",
        "digits",
        "whitespace",
        "dots",
        "mixed-punct",
        "word",
        "list-lines",
        "symbol-lines",
        "urls",
    ],
)
def test_a_megabyte_of_one_character_class_takes_linear_time(unit):
    import time

    text = "Sure! " + unit * (1_000_000 // len(unit.encode()))
    t0 = time.perf_counter()
    check(text)
    assert time.perf_counter() - t0 < 20  # about a second on one core; quadratic was minutes
