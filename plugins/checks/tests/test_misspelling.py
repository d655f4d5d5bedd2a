"""The misspelling check on small hand-made cases (no shared data needed)."""

from __future__ import annotations

import pytest
from workbench_checks.misspelling import MisspellingCheck
from workbench_checks.misspelling_tokens import mask, prose_words

from workbench.check.checks import Record
from workbench.check.runner import run_check
from workbench.errors import PluginError


def check(output: str, prompt: str = "Tell me something.", **opts):
    rec = Record(id="r", prompt=prompt, output=output)
    (finding,) = MisspellingCheck(opts).run([rec])
    return finding


def flagged_words(finding) -> list[str]:
    return [w["word"] for w in (finding.evidence or {}).get("words", [])]


def test_misspellings_are_flagged_with_span_and_correction():
    out = "I will recieve the package tomorow, it is definately on its way."
    f = check(out)
    assert f.flagged and f.score >= 0.5
    assert flagged_words(f) == ["recieve", "tomorow", "definately"]
    start = out.index("recieve")
    assert f.spans[0] == (start, start + len("recieve"))
    assert "'recieve' -> 'receive'" in f.message
    assert "'definately' -> 'definitely'" in f.message
    corrections = {w["word"]: w["correction"] for w in f.evidence["words"]}
    assert corrections["tomorow"] == "tomorrow"


def test_corrections_prefer_common_slips_and_words_the_text_uses():
    # a vowel for a vowel is a likelier slip than a consonant for a consonant
    assert "'devided' -> 'divided'" in check("The cake was devided into six parts.").message
    # "prodect" is one edit from both "project" and "product": the text is about a product
    f = check("Our product ships in May. The prodect comes in two colors.")
    assert "'prodect' -> 'product'" in f.message
    g = check("The project starts in May. The prodect has two phases.")
    assert "'prodect' -> 'project'" in g.message


def test_vowelless_slips_of_very_common_words_but_not_units():
    assert flagged_words(check("A cup gf tea, thw best.")) == ["gf", "thw"]
    assert not check("Add 250 ml of milk, 3 tsp of sugar and walk 5 km.").flagged


def test_clean_text_is_not_flagged():
    f = check("The quick brown fox jumps over the lazy dog, and nobody minds at all.")
    assert not f.flagged and f.score == 0 and f.spans == ()


def test_common_typo_of_a_frequent_word_is_flagged():
    # "teh" is attested in web text, but it is one swap from "the", far commoner.
    assert flagged_words(check("Put teh book on the shelf.")) == ["teh"]


def test_capitalised_typo_at_sentence_start_keeps_its_case_in_the_correction():
    f = check("Becuase it rained, we stayed in.")
    assert "'Becuase' -> 'Because'" in f.message


def test_names_are_not_flagged():
    f = check("We met Goertz and Ucchin at the Kournikova Arena near Vellmoor yesterday.")
    assert not f.flagged, f.message


def test_code_urls_emails_and_numbers_are_not_flagged():
    out = (
        "Call `frobnicate_all()` or getUserNmae from the docs at https://exmaple.com/pathh "
        "and write to suport@exmaple.org; set max_itemz to 42 and read 3rdparty.\n"
        "```python\ndef fooo(barr):\n    return bazz\n```\n"
        "x = computte(y)\n"
    )
    f = check(out)
    assert not f.flagged, f.message


def test_labels_formulas_and_names_used_elsewhere_are_not_flagged():
    out = (
        "Meet Glowie, the night light. Glowie glows softly.\n"
        "1. Edutopia: a blog about teaching.\n"
        "y-intercept = ybar - slope * xbar\n"
        "Common domains end in '.org' and '.net', and det(A) is the determinant."
    )
    f = check(out)
    assert not f.flagged, f.message


def test_british_and_american_spellings_are_both_fine():
    out = (
        "The colour and color of the centre and center; organise or organize; she travelled "
        "and traveled; analyse, analyze; a catalogue, a defence, the programme, the kerb."
    )
    assert not check(out).flagged


def test_en_us_variant_flags_british_spellings_with_the_american_form():
    f = check("The colour of the centre.", variants="en-us")
    assert flagged_words(f) == ["colour", "centre"]
    assert "'colour' -> 'color'" in f.message


def test_words_from_the_prompt_context_or_reference_are_not_flagged():
    rec = Record(
        id="r",
        prompt="Explain what a florbix is.",
        output="A florbix is a tool; the zandar and quellish parts are optional.",
        context="The zandar holds the blade.",
        reference="quellish",
    )
    (f,) = MisspellingCheck().run([rec])
    assert not f.flagged, f.message


def test_allowed_words_option():
    f = check("Our florbix ships today.", allowed_words=["Florbix"])
    assert not f.flagged


def test_regular_derivations_and_compounds_are_words():
    f = check("The influencer will reimagine the checkboxes after upskilling the team.")
    assert not f.flagged, f.message


def test_foreign_passage_is_not_a_list_of_misspellings():
    f = check("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.")
    assert not f.flagged, f.message


def test_a_sentence_of_heavy_typos_is_not_taken_for_a_foreign_one():
    f = check("Teh Vell rivver iz 340 mlies lnog.")
    assert flagged_words(f) == ["Teh", "rivver", "iz", "mlies", "lnog"]


def test_passage_in_another_language_is_not_flagged():
    f = check("She wrote: Das Wetter ist heute sehr schön und warm. Then she left.")
    assert not f.flagged, f.message


def test_possessive_and_contractions():
    assert not check("The river's bank isn't far, and we'll walk there; it's nice.").flagged


def test_prose_words_skip_names_and_mark_sentence_starts():
    words = prose_words("Anna met the teh. Then Bob left.\n- Item one")
    assert [(w.text, w.sentence_start) for w in words] == [
        ("Anna", True),
        ("met", False),
        ("the", False),
        ("teh", False),
        ("Then", True),
        ("left", False),
        ("Item", True),
        ("one", False),
    ]


def test_mask_keeps_offsets():
    text = "see `code` at https://x.org/a and mail a@b.com now"
    masked = mask(text)
    assert len(masked) == len(text)
    assert "code" not in masked and "x.org" not in masked and "a@b" not in masked
    assert masked.endswith("now")


def test_one_finding_per_record_through_run_check():
    recs = [
        Record(id=str(i), prompt="", output=o)
        for i, o in enumerate(["All good here.", "A mispelled word.", ""])
    ]
    found = run_check(MisspellingCheck(), recs)
    assert [f.flagged for f in found] == [False, True, False]
    assert all(f.error is None for f in found)


def test_bad_options_raise_a_plugin_error():
    with pytest.raises(PluginError, match="variants"):
        MisspellingCheck({"variants": "klingon"})


def test_doc_examples_run_as_written(cli, tmp_path):
    """The `workbench check` session in docs/checks-misspelling-hallucination.md is real."""
    import json
    import shlex
    from pathlib import Path

    doc = Path(__file__).resolve().parents[3] / "docs" / "checks-misspelling-hallucination.md"
    block = doc.read_text().split("```\n", 2)[1]
    sessions = [s for s in block.split("$ ") if s.strip()]
    records = sessions[0].splitlines()[1:]
    (tmp_path / "records.jsonl").write_text("\n".join(r for r in records if r.strip()) + "\n")
    assert len(sessions) >= 3
    for session in sessions[1:]:
        command, *expected = session.strip().splitlines()
        args = shlex.split(command)[1:]
        args = [str(tmp_path / a) if a == "records.jsonl" else a for a in args]
        result = cli(*args)
        got = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
        assert got == [json.loads(x) for x in expected], command


def test_two_edit_search_finds_what_a_full_scan_finds():
    """The letter-count prefilter of the 2-edit correction search drops no word within two
    edits: the same best candidate as an edit distance against every dictionary word."""
    import random

    from rapidfuzz import process
    from rapidfuzz.distance import OSA
    from workbench_checks.misspelling_lexicon import _edits1, get_lexicon

    lex = get_lexicon()
    rng = random.Random(3)
    pool = sorted(w for w in lex.words if w.isalpha() and 3 <= len(w) <= 11)
    words = ["qarth", "baelish", "zuckerburg", "hogsmeade", "eowyn", "targaryen"]
    while len(words) < 40:
        w = list(rng.choice(pool))
        for _ in range(2):
            w[rng.randrange(len(w))] = rng.choice("abcdefghijklmnopqrstuvwxyz")
        if not any(e in lex.words for e in _edits1("".join(w))):
            words.append("".join(w))

    def full_scan(word):
        best = None
        for n in range(len(word) - 2, len(word) + 3):
            for cand, dist, _ in process.extract_iter(word, lex._by_len.get(n, []),
                                                      scorer=OSA.distance, score_cutoff=2):
                key = (int(dist), -lex.zipf(cand), cand)
                best = key if best is None or key < best else best
        return (best[2], best[0]) if best else (None, 0)

    found = [lex.candidates(w) for w in words]
    assert found == [full_scan(w) for w in words]
    assert any(c for c, _ in found) and any(c is None for c, _ in found)


def corrections(finding) -> dict[str, str | None]:
    return {w["word"]: w["correction"] for w in (finding.evidence or {}).get("words", [])}


def test_run_together_words_are_flagged_as_the_phrase():
    f = check("I have alot of work. Infact we help eachother aswell, incase it rains.")
    assert corrections(f) == {
        "alot": "a lot",
        "Infact": "In fact",
        "eachother": "each other",
        "aswell": "as well",
        "incase": "in case",
    }
    # closed compounds in use are words, not run-together phrases
    assert not check("Tick the checkboxes online, then log in to the website.").flagged


def test_contractions_without_apostrophe_are_flagged_by_frequency():
    f = check("I dont know why he doesnt call, and I cant wait.")
    assert corrections(f) == {"dont": "don't", "doesnt": "doesn't", "cant": "can't"}
    # words whose own use is common enough stay words
    assert not check("I will be well; the wont of the town lets it rest.").flagged


def test_capitalised_typos_inside_a_sentence_are_flagged_but_names_are_not():
    f = check("In many countries the Goverments buy a new Compuer every year.")
    assert corrections(f) == {"Goverments": "Governments", "Compuer": "Computer"}
    names = "Then Mr Kraebes met Chinonso Okonkwo, and later Okonkwo met Kraebes in Lagos."
    assert not check(names).flagged
    assert not check("The letter was signed by Kraebes and read by Okonkwo.").flagged


def test_derivations_against_the_suffix_rule_are_flagged():
    f = check("They are useing it, prices rose drasticly and the bus is stoping.")
    assert corrections(f) == {"useing": "using", "drasticly": "drastically", "stoping": "stopping"}
    # rule-following or attested forms stay words
    assert not check("We were seeing it publicly, agreeing and singeing the edges.").flagged


def test_parts_of_plausible_hyphenated_words_are_not_checked_alone():
    assert not check("I like sci-fi, send an e-mail to the co-op and get an x-ray.").flagged
    # a typo inside a hyphenated word is still a typo
    assert flagged_words(check("It is a well-knwon fact.")) == ["knwon"]


def test_real_word_errors_get_a_low_severity_flag():
    f = check("I think their is a problem, and she is taller then her brother.")
    assert corrections(f) == {"their": "there", "then": "than"}
    assert f.severity == "low"
    # the right word in the same places is not flagged
    assert not check("I think there is a problem, and she is taller than her brother.").flagged
    assert not check("I think their is a problem.", real_word_errors=False).flagged


def test_contraction_confusions_are_read_from_the_words_around_them():
    f = check("I think its a good idea, and the hotel has it's own beach.")
    assert corrections(f) == {"its": "it's", "it's": "its"}
    assert f.severity == "low"
    assert corrections(check("Your not alone. Thanks for you're help.")) == {
        "Your": "You're",
        "you're": "your",
    }
    assert corrections(check("Its important to rest, and their going home.")) == {
        "Its": "It's",
        "their": "they're",
    }
    # the right forms, and possessives before nouns, adjectives that are also nouns' modifiers
    assert not check(
        "It's a good idea, and the hotel has its own beach. The cat licked its paw. "
        "You're welcome, and your car is red. Its ability to fly is rare. "
        "Climate change threatens its very existence. They're going home."
    ).flagged


def test_words_of_a_maintained_word_list_are_words():
    # technical words the spelling dictionary lacks (symspellpy's list; -ful derivations)
    assert not check("Use the modulo operator, a stateful server and a workflow.").flagged


def test_foreign_phrases_and_name_particles_are_not_flagged():
    assert not check("She sang C'est la vie en lumière, c'est la vie.").flagged
    assert not check("He loved Sturm und Drang poetry and read Ludwig von Mises.").flagged
    # a lone word of another language among English words is still a typo
    assert flagged_words(check("I like cake und tea.")) == ["und"]
    # capitalised words are no evidence of a language: "AI" is not French
    assert flagged_words(check("As an AI language model, I bo not know.")) == ["bo"]


def test_markup_and_a_word_cut_at_the_token_limit_are_not_flagged():
    assert not check('<div>\n  <img src="https://example.com/a.png').flagged
    cut = Record(id="r", prompt="p", output="Two words are juxtap", finish_reason="length")
    (f,) = MisspellingCheck().run([cut])
    assert not f.flagged
    # the same word with the output finished is flagged
    done = Record(id="r", prompt="p", output="Two words are juxtap", finish_reason="stop")
    (g,) = MisspellingCheck().run([done])
    assert flagged_words(g) == ["juxtap"]


def test_unattested_derivations_and_scrambled_common_words():
    # de + laid is no word any corpus attests: a typo of "delayed"
    assert flagged_words(check("We were delaid by the rain.")) == ["delaid"]
    # a capitalised five-letter form two edits from one of the commonest words
    assert flagged_words(check("Yesterday I said Owudl you come with me.")) == ["Owudl"]
    # short names unknown to the word lists are not
    assert not check("I met Thabo and Ngozi and Chidi in Enugu.").flagged


def test_a_capitalised_first_word_before_a_capitalised_word_starts_a_name():
    assert not check("1. Breyton Patel (2018)\n2. Custardy Essentials").flagged
    # unless it is a clear typo of a common word
    assert flagged_words(check("Teh Beatles played.")) == ["Teh"]
    assert flagged_words(check("1. Lerning Node.js\n2. Posion Control")) == ["Lerning", "Posion"]


def test_coinages_the_prompt_asks_for_and_repeated_invented_names_are_not_flagged():
    out = "Here are new words: blurfog, splatsmack and ajig."
    assert not check(out, prompt="Generate five new words by combining two existing words.").flagged
    assert flagged_words(check(out, prompt="Tell me something.")) == ["blurfog", "splatsmack", "ajig"]
    # a slip of a common word is still a typo
    assert flagged_words(check("Teh words: blurfog.", prompt="Invent a new word.")) == ["Teh"]
    story = "Amedea lives in the sea. Amedea has blue markings."
    assert not check(story).flagged
    assert flagged_words(check("Amedea lives in the sea.")) == ["Amedea"]
    assert not check("I was cutter'd by the tree, belov'd and lost.").flagged


def test_a_label_is_checked_only_for_clear_typos():
    # labels are often names ("Edutopia: a blog"), but a clear slip of a common word is a typo
    assert not check("Edutopia: a blog about schools.\nLikertr: 3-4").flagged
    assert flagged_words(check("1. Intro - the plan\n2. Atmospher - Carbon Dioxide")) == [
        "Atmospher"
    ]


def test_invented_names_in_lists_and_short_lines_are_names():
    # the first word of a list item or of a short line without a full stop, before a
    # possessive or an exclamation mark, reads as a name unless it is a clear typo
    assert not check("Dwolla with 300\nGrunita with 200").flagged
    assert not check("* Bluebonnet\n* Oxtrabs e-Nom\n* Danish Pies").flagged
    assert not check("Spaniack's food is a mix of Spanish and French cooking.").flagged
    # a form corpora attest, standing alone before "!", is an interjection
    assert not check("The world is cruel.\nAck! The world is cruel.").flagged
    # one edit from a word, a list item's first word is checked as any other
    assert flagged_words(check("1. Caluculate the sum\n2. Gren beans")) == ["Caluculate", "Gren"]
    # the same non-word starting a prose sentence is still flagged
    assert flagged_words(check("Grunita is what we ate at home, with rice.")) == ["Grunita"]


def test_a_list_marker_does_not_end_the_sentence_before_a_name():
    assert not check("1. Laemphyl Amoni: Amoni won the gold medal.").flagged
    assert not check("They ate Salmaes de Tortas, a classic Spanish dish.").flagged


def test_misspelled_names_and_title_words_are_flagged():
    # one common slip (doubled, dropped or swapped letters, a vowel for a vowel) of a word
    # corpora know, in a form no corpus attests
    assert flagged_words(check("The Fibbonacci is defined as a sequence.")) == ["Fibbonacci"]
    assert flagged_words(check("9. Parachutas - Not mentioned yet.")) == ["Parachutas"]
    # title case (a function word capitalised inside the line): capitalised common words
    # around a slip of a common word are no name
    assert flagged_words(check("7. Danger of Climate Change and How to Mitters It")) == [
        "Mitters"
    ]
    assert not check('Read "The Lost City of Z" by David Grann.').flagged
    # a slip that adds a letter to a rarer word is a name's spelling (Custardy, Breyton)
    assert not check("We met Breyton in Custardy Essentials.").flagged


def test_scientific_names_foreign_pairs_loanwords_and_variables_are_not_flagged():
    assert not check("Apples have the scientific name Malus domesticis, a fruit.").flagged
    assert not check("Let x be the side. So the area of the triangle is xy.").flagged
    # the same two letters in plain prose are still a slip
    assert flagged_words(check("I went there xy car.")) == ["xy"]


def test_rare_real_words_and_inflections_are_words():
    out = "A dark coat with a mussed look creaked as he passed; re-imagings of it abound."
    assert not check(out).flagged
    # rare dictionary words far rarer than their neighbour are still slips
    assert flagged_words(check("The cat ane the dog.")) == ["ane"]


def test_a_typo_copied_from_the_prompt_is_still_a_typo_but_its_names_are_not():
    f = check("The new exampe is a polite request.", prompt="Create an exampe of a request.")
    assert flagged_words(f) == ["exampe"]
    f = check('The song "Apocalypic" is by Halestorm.', prompt='Who sang "Apocalypic"?')
    assert flagged_words(f) == ["Apocalypic"]
    assert not check("Tell Zorblat hello.", prompt="Write to Zorblat.").flagged


def test_poetic_elisions_and_glued_coinages_are_not_flagged():
    assert not check("I am the sky o'eve, o'er the earth.").flagged
    assert not check("Name the creature (Tritaniumus!xant!).").flagged
    # words joined by a slash are prose alternatives, checked one by one
    assert flagged_words(check("Bring a hat and/or a jaket/coat.")) == ["jaket"]


def test_invented_place_names_after_a_title_or_a_kind_of_place_are_names():
    # one slip from a common word (This, Stand, Tell, Preston), but where names stand
    text = (
        "The Wypor river flows into Lake Houtiam. Mount Thias is 8210 feet tall. "
        "The Breston river runs through the province of Siand. The town lies in the Kingdom of Taell."
    )
    assert not check(text).flagged
    # the same slips of common words where no name can stand are still typos
    f = check("The hill is steep. Thias is why we stand on the Stnad and tell the Taell story.")
    assert "Stnad" in flagged_words(f) or "Thias" in flagged_words(f)
    assert flagged_words(check("It was a long day in the city of Rome and Goverments fell.")) == [
        "Goverments"
    ]


def test_too_before_a_word_very_goes_before_is_the_degree_adverb():
    assert not check("Some readers were too sensitive, and the tea was too hot.").flagged
    # "to" is still read where "too" cannot be a degree adverb
    f = check("We went too school early and walked too the park.")
    assert set(corrections(f).values()) == {"to"}
