"""Links between words the context holds that the context makes otherwise (made-up cases)."""

from __future__ import annotations

from workbench_checks.hallucination import HallucinationCheck
from workbench_checks.hallucination_answers import (
    both_conflicts,
    choice_conflicts,
    count_conflicts,
    role_conflicts,
    year_order_conflicts,
)
from workbench_checks.hallucination_relations import (
    alias_conflicts,
    composite_names,
    definition_conflicts,
    relation_conflicts,
    rename_conflicts,
)

from workbench.check.checks import Record

SONGS = (
    '"Blue Harbour" is a 1981 single written by Ilse Varga and Tom Reed, which was recorded by '
    'Mara Quist. "Night Train" is a song written and composed by Ana Holm and Per Lind.'
)


def one(output: str, context: str, prompt: str):
    rec = Record(id="r1", prompt=prompt, output=output, context=context)
    (finding,) = HallucinationCheck().run([rec])
    return finding


def test_an_object_the_context_gives_another_verb_is_flagged_with_both_sides():
    out = '"Night Train" was composed by Ilse Varga and Tom Reed.'
    (c,) = relation_conflicts(out, SONGS)
    assert out[c.span[0] : c.span[1]] == c.mine == "Ilse Varga"
    assert c.theirs.startswith("composed by Ana Holm")
    f = one(out, SONGS, "Who composed Night Train?")
    assert f.flagged and (c.span in f.spans)
    assert "Ana Holm" in f.message and "Ilse Varga" in f.message


def test_the_same_link_or_one_of_a_list_is_not_a_conflict():
    assert relation_conflicts('"Blue Harbour" was written by Tom Reed.', SONGS) == []
    assert relation_conflicts("It was recorded by Mara Quist in 1981.", SONGS) == []
    # a verb the context never links to a name says nothing either way
    assert relation_conflicts('"Night Train" was produced by Tom Reed.', SONGS) == []


def test_a_place_of_birth_is_compared_up_to_the_first_comma():
    ctx = "She was born in Tarn, Norland and grew up in Amber, Norland."
    (c,) = relation_conflicts("Kira Vell was born in Kira Vell, Norland.", ctx)
    assert c.mine == "Kira Vell" and "born in Tarn" in c.theirs
    assert relation_conflicts("She was born in Tarn.", ctx) == []


def test_how_many_answered_with_another_number_of_the_context():
    ctx = "The port handled 294,000 passengers in 2012, a 94% increase in passenger traffic."
    q = "How many passengers did the port handle in 2012?"
    (c,) = count_conflicts(q, "It handled 94% of the traffic in 2012.", ctx)
    assert c.mine == "94%" and "294,000 passengers" in c.theirs
    assert count_conflicts(q, "It handled 294,000 passengers in 2012.", ctx) == []
    # no number for the counted noun in the context: nothing to compare with
    assert count_conflicts("How many ships docked?", "Twelve ships.", ctx) == []


def test_which_came_first_answered_with_the_later_option():
    ctx = (
        "The Glass Harbour is a 1996 animated film by Vell Studios. "
        "Salt Roads (Spanish for roads) is a 1942 film by Vell Studios."
    )
    q = "Which film was released first, The Glass Harbour or Salt Roads?"
    (c,) = year_order_conflicts(q, "The Glass Harbour was released first.", ctx)
    assert c.mine == "Glass Harbour" and "1996" in c.theirs and "1942" in c.theirs
    assert year_order_conflicts(q, "Salt Roads was released first.", ctx) == []
    # a sentence that gives no answer is not read as one
    long = "The Glass Harbour came out in 1996 and Salt Roads in 1942, both by Vell Studios."
    assert year_order_conflicts(q, long, ctx) == []


def test_the_option_the_context_does_not_say_the_asked_thing_of():
    ctx = (
        "Ana Holm (born 1963) is a Swedish singer. She sang in the rock band Whale. "
        "Per Lind (born 1954) is an American rock vocalist. "
        "In 2007, he was inducted into the Rock and Roll Hall of Fame."
    )
    q = "Who was inducted into the Rock and Roll Hall of Fame, Per Lind or Ana Holm?"
    (c,) = choice_conflicts(q, "Ana Holm was inducted into the Hall of Fame.", ctx)
    assert c.mine == "Ana Holm" and c.theirs.startswith("Per Lind:")
    assert choice_conflicts(q, "Per Lind was inducted in 2007.", ctx) == []


def test_the_options_of_a_question_may_follow_a_colon():
    ctx = (
        "Mira Sand (born 1966) is a retired radio host. Olaf Brek (1928 - 2011) was a Danish "
        "physician. He is best known for publicly defending the right of patients to refuse "
        "treatment."
    )
    q = ("Which of the following is best known for publicly defending the right of patients "
         "to refuse treatment: Mira Sand or Olaf Brek?")
    (c,) = choice_conflicts(q, "Mira Sand is best known for publicly defending it.", ctx)
    assert c.mine == "Mira Sand" and c.theirs.startswith("Olaf Brek:")
    assert choice_conflicts(q, "Olaf Brek is best known for it.", ctx) == []


def test_a_name_put_together_from_two_names_of_the_context():
    ctx = "The album was recorded in New Paltz, New York. New Paltz is a village in Ulster County."
    q = "The album was recorded in a village in which New York county?"
    (c,) = composite_names("It was recorded in New York County.", ctx, q)
    assert c.mine == "New York County" and "Ulster County" in c.theirs
    # a part of a name, a name of the context, a name the question writes: fine
    assert composite_names("It was recorded in Ulster County, New York.", ctx, q) == []
    ctx2 = "Pavel Samuilovich Urysohn was a mathematician."
    assert composite_names("Pavel Urysohn was a mathematician.", ctx2, "") == []


def test_an_attribute_of_another_person_is_flagged_in_its_clause():
    ctx = (
        "Robert Fleischman (born March 11, 1953) is an American musician and songwriter. "
        "James Swan (born 28 April 1956), better known as Jimmy Barnes, is a "
        "Scottish-Australian rock singer."
    )
    q = "Do Robert Fleischman and Jimmy Barnes have the same nationality?"
    out = (
        "No. Robert Fleischman is a Scottish musician and songwriter, while Jimmy Barnes is a "
        "Scottish-Australian rock singer."
    )
    f = one(out, ctx, q)
    assert f.flagged and "Scottish" in f.evidence["stitched"]
    start = out.index("Scottish")
    assert (start, start + len("Scottish")) in f.spans
    right = (
        "No. Robert Fleischman is an American musician, while Jimmy Barnes is a "
        "Scottish-Australian rock singer."
    )
    assert not one(right, ctx, q).flagged


def test_a_sentence_that_opens_with_a_name_of_several_words():
    ctx = "Samson and Delilah is a 1984 television film starring Victor Mature."
    f = one("Saul and Delilah is a 1984 television film.", ctx, "Which film starred Mature?")
    assert f.flagged and f.evidence["unsupported"] == ["Saul"]


def test_two_people_of_two_sentences_given_as_one():
    ctx = (
        "Members include Ana Holm, the late Tom Reed and Per Lind. "
        "Dennis Per Lind (13 August 1945 - 10 April 2016) was a Welsh author."
    )
    (c,) = alias_conflicts("Dennis Per Lind, the late Tom Reed, died in 2016.", ctx)
    assert c.mine == "Tom Reed" and "Dennis Per Lind" in c.theirs
    ctx2 = "James Swan (born 1956), better known as Jimmy Barnes, is a singer."
    assert alias_conflicts("James Swan, better known as Jimmy Barnes, sings.", ctx2) == []


def test_a_short_answer_the_context_does_not_call_what_was_asked():
    ctx = (
        "Park Vell (born 1948) is a forensic psychiatrist who has consulted in many cases. "
        "He was associated with members of the Norland Mafia."
    )
    q = "What forensic psychiatrist consulted on cases of the Norland Mafia?"
    (c,) = role_conflicts(q, "The Norland Mafia.", ctx)
    assert c.mine == "Norland Mafia" and c.theirs == "Park Vell: forensic psychiatrist"
    f = one("The Norland Mafia.", ctx, q)
    assert f.flagged, "a span of the context, but the wrong one"
    assert role_conflicts(q, "Park Vell.", ctx) == []
    assert role_conflicts(q, "The answer is: Park Vell", ctx) == []
    # a sentence is not a short answer; what the question names is not its answer
    assert role_conflicts(q, "The Norland Mafia hired many people over the years.", ctx) == []
    q2 = "What forensic psychiatrist did Park Vell work with?"
    assert role_conflicts(q2, "Ana Holm.", ctx) == []


def test_a_description_said_to_be_a_name_of_another_sentence():
    ctx = (
        "Ana Holm (born July 9, 1964) is a singer. She rose to prominence as the frontwoman "
        "of the rock band Hole, which she formed in 1989. The Wolf are a pop band formed in "
        "Amber in 1985 by Per Lind."
    )
    out = "The rock band that Ana Holm was a frontwoman of was The Wolf."
    (c,) = definition_conflicts(out, ctx)
    assert c.mine == "Wolf" and "band Hole" in c.theirs
    assert out[c.span[0] : c.span[1]] == "Wolf"
    assert definition_conflicts("The rock band that Ana Holm was a frontwoman of was Hole.", ctx) == []
    # a short description says too little to pin a sentence
    assert definition_conflicts("The band was The Wolf.", ctx) == []


def test_a_number_with_a_thousands_separator_is_one_object():
    ctx = "The plot is based on 94,526 images for the years 1800-2000."
    assert relation_conflicts("the plot is based on 94,526 images .", ctx) == []


def test_a_description_said_to_be_its_own_name():
    ctx = (
        '"Night Shift" is the last episode and season finale of the third season of "Harbour". '
        "Harbour is a drama that ran on the Vell network."
    )
    out = 'The season finale of the third season of the show "Harbour" is "Harbour".'
    (c,) = definition_conflicts(out, ctx)
    assert c.mine == "Harbour" and c.theirs.startswith('"Night Shift" is the last episode')
    assert c.span[0] == out.rindex("Harbour")
    right = 'The season finale of the third season of the show "Harbour" is "Night Shift".'
    assert definition_conflicts(right, ctx) == []


def test_a_former_name_given_as_the_current_one():
    ctx = "Amber Terrace, now known as Vell Estate, is a mansion built for Ana Holm."
    out = "The current name of the mansion built for Ana Holm is Amber Terrace."
    (c,) = rename_conflicts(out, ctx)
    assert c.mine == "Amber Terrace" and c.theirs == "Amber Terrace, now known as Vell Estate"
    assert rename_conflicts("The current name of the mansion is Vell Estate.", ctx) == []
    # a sentence that does not speak of now may use the old name
    assert rename_conflicts("Amber Terrace was built for Ana Holm.", ctx) == []


def test_weight_link_zero_turns_the_link_rules_off():
    out = '"Night Train" was composed by Ilse Varga and Tom Reed.'
    rec = Record(id="r1", prompt="Who composed Night Train?", output=out, context=SONGS)
    (f,) = HallucinationCheck({"weight_link": 0}).run([rec])
    assert not f.flagged and f.evidence["contradicted"] == []


def test_an_option_with_an_apposition():
    ctx = (
        "Ana Holm (born 1964) is a singer. She fronted the rock band Hole, which she formed "
        "in 1989. The Wolf are a pop band formed in Amber in 1985."
    )
    q = "Which band was founded first, Hole, the rock band that Ana Holm fronted, or The Wolf?"
    (c,) = year_order_conflicts(q, "Hole, the band Ana Holm fronted, was founded first.", ctx)
    assert c.mine == "Hole" and c.theirs == "Hole 1989, Wolf 1985"
    assert year_order_conflicts(q, "The Wolf was founded first.", ctx) == []


def test_yes_or_no_to_are_both_a_and_b():
    ctx = (
        "The Vell Quartet is a Canadian indie rock band formed in 1997. "
        "Amber Kings is an American rock band formed in 1999. "
        "Ana Holm (born 1962) is an American writer. Per Lind (born 1943) is an American filmmaker."
    )
    q1 = "Are both The Vell Quartet and Amber Kings American rock bands?"
    (c,) = both_conflicts(q1, "Yes, both are American rock bands.", ctx)
    assert c.mine == "Yes" and c.span == (0, 3) and "Vell Quartet" in c.theirs
    assert both_conflicts(q1, "No, the Vell Quartet is Canadian.", ctx) == []
    q2 = "Are Anna Holm and Per Lind both American?"
    (c,) = both_conflicts(q2, "No, they are not.", ctx)
    assert c.mine == "No" and c.theirs == "Anna Holm and Per Lind both: American"
    assert both_conflicts(q2, "Yes, both are American.", ctx) == []
