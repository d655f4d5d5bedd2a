"""The hallucination check on small hand-made cases (no shared data needed)."""

from __future__ import annotations

import pytest
from workbench_checks.hallucination import HallucinationCheck
from workbench_checks.hallucination_support import assess

from workbench.check.checks import Record
from workbench.check.runner import run_check
from workbench.errors import PluginError

CONTEXT = (
    "The Vell Bridge was built in 1821 by the engineer Mara Quist. It crosses the river Vell "
    "at the old port of Amber, and carries the coast road north to Norland."
)
QUESTION = "When was the Vell Bridge built?"


def one(output: str, context: str | None = CONTEXT, prompt: str = QUESTION, **kw):
    rec = Record(id="r1", prompt=prompt, output=output, context=context, **kw)
    (finding,) = HallucinationCheck().run([rec])
    return finding


def test_number_not_in_context_is_flagged_with_its_span():
    out = "The Vell Bridge was built in 1843."
    f = one(out)
    assert f.flagged and f.score >= 0.5
    start = out.index("1843")
    assert (start, start + 4) in f.spans
    assert "1843" in f.message
    assert f.evidence["unsupported"] == ["1843"]


def test_supported_answer_is_not_flagged():
    f = one("The Vell Bridge was built in 1821.")
    assert not f.flagged and f.score < 0.5
    assert f.spans == ()


def test_extractive_short_answer_scores_near_zero():
    f = one("1821")
    assert not f.flagged and f.score < 0.1
    assert f.evidence["extractive"] is True


def test_invented_name_is_flagged():
    f = one("It was built by the engineer Tomas Brandt.", prompt="Who built the Vell Bridge?")
    assert f.flagged
    assert {"Tomas", "Brandt"} <= set(f.evidence["unsupported"])


def test_morphological_variant_counts_as_support():
    # "crossing" is backed by "crosses"; "engineered" by "engineer".
    s = assess("Mara Quist engineered the crossing of the Vell.", CONTEXT)
    assert s.unsupported == []


def test_negation_the_context_lacks_is_flagged():
    f = one("The Vell Bridge does not carry the coast road.", prompt="What does the bridge carry?")
    assert f.flagged
    assert "not" in f.evidence["negations"]


def test_yes_no_answer_to_polar_question_is_not_a_negation():
    s = assess("No", "The bridge is in Amber.", "Is the bridge in Norland?")
    assert s.negations == []


def test_claim_stitched_from_different_sentences_scores_higher():
    ctx = "Anna Berg was born in Oslo. The Royal Theatre is in Bergen."
    stitched = assess("Anna Berg was born in Bergen.", ctx, "Where was Anna Berg born?")
    grounded = assess("Anna Berg was born in Oslo.", ctx, "Where was Anna Berg born?")
    assert stitched.score > grounded.score
    assert stitched.scattered > 0 == grounded.scattered


def test_year_question_answered_without_a_date_scores_higher():
    typed = assess("Mara Quist built it.", CONTEXT, QUESTION)
    assert typed.type_mismatch
    assert not assess("In 1821.", CONTEXT, QUESTION).type_mismatch


def test_reference_counts_as_evidence_unless_disabled():
    rec = Record(id="r", prompt="Who?", output="Ilse Varga.", reference="Ilse Varga", context="x")
    assert not next(iter(HallucinationCheck().run([rec]))).flagged
    off = HallucinationCheck({"use_reference": False})
    assert next(iter(off.run([rec]))).flagged


def test_no_evidence_means_no_flag():
    f = one("The bridge was built in 1843.", context=None)
    assert not f.flagged and f.score == 0
    assert "no context" in f.message


def test_allowed_words_are_never_unsupported():
    f = HallucinationCheck({"allowed_words": ["Brandt", "Tomas"]}).run(
        [Record(id="a", prompt="Who?", output="Tomas Brandt.", context=CONTEXT)]
    )
    assert next(iter(f)).evidence["unsupported"] == []


def test_one_finding_per_record_through_run_check():
    recs = [
        Record(id=str(i), prompt=QUESTION, output=o, context=CONTEXT)
        for i, o in enumerate(["1821", "In 1790.", "", "It was built by Mara Quist in 1821."])
    ]
    found = run_check(HallucinationCheck(), recs)
    assert [f.record_id for f in found] == ["0", "1", "2", "3"]
    assert [f.flagged for f in found] == [False, True, False, False]
    assert all(f.error is None and 0 <= f.score <= 1 for f in found)


def test_bad_options_raise_a_plugin_error():
    with pytest.raises(PluginError, match="threshold"):
        HallucinationCheck({"threshold": 2})


def test_pronoun_sentence_is_backed_by_the_name_before_it():
    ctx = (
        "The Vajy river is 725 miles long and flows into Lake Bostes. It is known for its bridges."
    )
    f = one("The Vajy river is known for its bridges.", context=ctx, prompt="What is it known for?")
    assert not f.flagged, f.message


def test_number_words_count_as_numbers():
    s = assess("It spent eight weeks at number one.", "The song spent nine weeks at number one.")
    assert s.unsupported == ["eight"] and s.score >= 0.5


def test_a_common_paraphrase_word_alone_is_not_a_hallucination():
    ctx = "Kros is a town of 47542 people in the province of Broumiar."
    f = one("Kros is home to 47542 people.", context=ctx, prompt="How many people live in Kros?")
    assert not f.flagged and f.evidence["unsupported"] == ["home"]


def test_against_a_bare_reference_restating_the_question_is_fine():
    q = "How many bones does the adult human body have?"
    good = Record(id="g", prompt=q, output="The adult human body has 206 bones.", reference="206")
    bad = Record(id="b", prompt=q, output="The adult human body has 212 bones.", reference="206")
    g, b = HallucinationCheck().run([good, bad])
    assert not g.flagged and g.score == 0
    assert b.flagged and b.evidence["unsupported"] == ["212"]
    assert b.message == "not supported by the reference: '212'"


def test_numbers_match_across_digits_and_words():
    s = assess(
        "It has five floors and opened on the 3rd of May.", "It has 5 floors; opened May third."
    )
    assert s.unsupported == [] and s.score < 0.5


# Rules learnt from real model outputs (bench/checks_hallucination_real.py).


def test_restating_the_question_is_not_a_hallucination():
    for out in (
        "The answer is: 1821.",
        "The answer to this question is: the Vell Bridge was built in 1821.",
        "According to the context, the Vell Bridge was built in 1821.",
    ):
        f = one(out)
        assert not f.flagged, (out, f.message)


def test_an_answer_combining_two_context_sentences_passes():
    ctx = (
        "Tarn Abbey was founded by the monk Ilse Varga. Varga later became the bishop of "
        "Amber, a harbour town on the coast."
    )
    for q, out in (
        (
            "The founder of Tarn Abbey became bishop of which town?",
            "Ilse Varga, the founder of Tarn Abbey, became bishop of Amber, a harbour town.",
        ),
        (
            "Who founded Tarn Abbey and what did they become?",
            "Tarn Abbey was founded by Ilse Varga, who became the bishop of Amber.",
        ),
    ):
        f = one(out, context=ctx, prompt=q)
        assert not f.flagged, f.message


def test_a_date_contradicting_the_context_is_flagged_with_its_span():
    ctx = "Mara Quist (January 29, 1913 – August 4, 1999) was an engineer from Amber."
    out = "Mara Quist (August 4, 1913 – 1999) was an engineer from Amber."
    f = one(out, context=ctx, prompt="Who was Mara Quist?")
    assert f.flagged
    assert (out.index("August"), out.index("August") + 6) in f.spans
    assert "'August 4, 1913' (the context gives 'January 29, 1913')" in f.message


def test_a_birth_year_of_another_event_is_flagged():
    ctx = (
        "Pablo Trapero (born 4 October 1971) is a film director. Aleksander Ford (born "
        "24 November 1908 in Kiev – 4 April 1980 in Naples) was a film director."
    )
    out = "Pablo Trapero was born in 1971, while Aleksander Ford was born in 1980."
    f = one(out, context=ctx, prompt="Who was born first, Pablo Trapero or Aleksander Ford?")
    assert f.flagged and f.evidence["unsupported"] == ["1980"]
    assert (out.index("1980"), out.index("1980") + 4) in f.spans
    right = one(out.replace("1980", "1908"), context=ctx, prompt="Who was born first?")
    assert not right.flagged, right.message


def test_no_flag_without_a_span_and_a_reason():
    ctx = "Anna Berg was born in Oslo. The Royal Theatre is in Bergen."
    outs = [
        "Anna Berg was born in Bergen.",  # stitched from two sentences, every word supported
        "Anna Berg is in the Royal Theatre.",
        "Anna Berg.",
    ]
    for out in outs:
        f = one(out, context=ctx, prompt="When was Anna Berg born?")
        if f.flagged:
            assert f.spans and f.message.startswith("not supported"), (out, f.message)
        else:
            assert f.score < 0.5


def test_a_misspelled_context_word_is_not_a_hallucination():
    f = one("Teh Vell Bridge was biult in 1821.")
    assert not f.flagged, f.message
    assert set(f.evidence["misspelled"]) == {"Teh", "biult"}
    assert f.evidence["unsupported"] == []
    # a real word the context lacks is still a claim, and a far-off non-word too
    assert one("The Vell Bridge was painted in 1821.").evidence["unsupported"] == ["painted"]
    assert "zorbled" in one("The Vell Bridge was zorbled in 1821.").evidence["unsupported"]


def test_the_later_born_answer_to_who_was_born_first_is_flagged():
    ctx = (
        "Sir Tomas Brandt (1587–1659) was a diplomat of Amber. Ilse Varga (19 August 1596 – "
        "13 February 1662) was a queen of Norland."
    )
    q = "Who was born first, Tomas Brandt or Ilse Varga?"
    wrong = one("The answer is: Ilse Varga.", context=ctx, prompt=q)
    assert wrong.flagged and wrong.spans == ((15, 25),)
    assert "Tomas Brandt born 1587" in wrong.message
    assert not one("Tomas Brandt was born first.", context=ctx, prompt=q).flagged


def test_a_birth_year_asked_for_that_is_no_ones_birth_year_is_flagged():
    ctx = (
        "Tarn v. Holst was a civil suit filed in 2004 in Oslo. The plaintiff, Erik Tarn, "
        "alleged fraud. Erik Tarn (born September 2, 1948) is a former lawyer."
    )
    q = "The plaintiff in the civil suit Tarn v. Holst was born in which year?"
    wrong = one("The plaintiff in the civil suit Tarn v. Holst was born in 2004.", context=ctx,
                prompt=q)
    assert wrong.flagged and "2004" in wrong.evidence["unsupported"]
    assert "born 1948" in wrong.message
    right = one("The plaintiff in the civil suit Tarn v. Holst was born in 1948.", context=ctx,
                prompt=q)
    assert not right.flagged, right.message
    # asked for something else, the year of the suit is the suit's
    assert not one("The suit was filed in 2004.", context=ctx, prompt="When was the suit filed?"
                   ).flagged


def test_a_misspelled_name_of_the_context_is_not_a_new_name():
    ctx = "Mirabeau is a digital agency in Amsterdam. It was acquired by Cognizant in 2016."
    f = one("The company that acquired Mirabel is Cognizant.", context=ctx, prompt="Who?")
    assert not f.flagged and f.evidence["misspelled"] == ["Mirabel"]
    assert one("The company that acquired Zorbex is Cognizant.", context=ctx).flagged


def test_a_last_word_cut_off_by_the_token_limit_is_not_a_claim():
    from workbench_checks.hallucination import HallucinationCheck as Hallucination

    from workbench.check.checks import Record

    ctx = "Thaeround is a town of 43177 people in the province of Trypern."
    out = "Thaeround is a town of 43"
    check = Hallucination(Hallucination.Options())
    cut = next(iter(check.run([Record(id="a", prompt="q", output=out, context=ctx,
                                      finish_reason="length")])))
    assert not cut.flagged, cut.message
    # the same text ending on its own (eos) does claim 43 people
    whole = next(iter(check.run([Record(id="b", prompt="q", output=out + ".", context=ctx,
                                        finish_reason="eos")])))
    assert whole.flagged and "43" in whole.message


def test_a_light_verb_of_place_is_no_claim():
    from workbench_checks.hallucination import HallucinationCheck as Hallucination

    from workbench.check.checks import Record

    ctx = "Stymysk is a town of 5120 people in the province of Nynarn."
    check = Hallucination(Hallucination.Options())
    f = next(iter(check.run([Record(id="a", prompt="In which province is Stymysk?",
                                    output="The town of Stymysk is located in the province of "
                                           "Nynarn.", context=ctx)])))
    assert not f.flagged, f.message


def test_a_name_the_context_ties_to_another_subject_is_pointed_at():
    ctx = ("The Breston river is 193 miles long and flows into Lake Thetryx. It is known for its "
           "green banks. Lotrei is a town of 61726 people in the province of Griatas. It is "
           "known for its quiet squares. Mount Grysteim is 6156 feet tall and stands in the "
           "Braestaesk Range.")
    # the sentence's words come from several sentences of the context (a sentence copied from
    # one other sentence is left alone: a multi-hop answer's bridge may be a description)
    rec = Record(id="r", prompt="Describe the Breston river.", context=ctx,
                 output="The Breston river is known for its green banks in the province of "
                        "Griatas, near Mount Grysteim.")
    (f,) = HallucinationCheck().run([rec])
    assert f.flagged and "said of something else" in f.message and "'Griatas'" in f.message
    start, end = f.spans[0]
    assert rec.output[start:end] == "Griatas"
    # the right links are not flagged, nor a multi-hop answer whose bridge the sentence names
    for out in ("The Breston river flows into Lake Thetryx.",
                "Lotrei is a town in the province of Griatas.",
                "Mount Grysteim stands in the Braestaesk Range."):
        (ok,) = HallucinationCheck().run([Record(id="r", prompt="?", context=ctx, output=out)])
        assert not ok.flagged, (out, ok.message)
    hop = ("The theme was re-arranged in season 2, and the current arrangement by Alf Clausen "
           "was introduced in the third season. Alf Clausen (born March 28, 1941) is an "
           "American composer.")
    (ok,) = HallucinationCheck().run([Record(
        id="r", prompt="When was the arranger of the theme born?", context=hop,
        output="The theme's current arrangement is by Alf Clausen, born in 1941.")])
    assert not ok.flagged, ok.message
