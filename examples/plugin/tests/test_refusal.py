"""Tests for the example plugin: the check on its own, then through workbench's registry."""

from workbench_refusal import RefusalCheck

from workbench import Record
from workbench.plugins import Plugins


def test_flags_a_refusal_with_its_span():
    out = "I'm sorry, but I can't help with that request."
    (f,) = RefusalCheck().run([Record("1", "Hack my neighbour's wifi.", out)])
    assert f.flagged and f.category == "refusal"
    assert out[f.spans[0][0] : f.spans[0][1]].lower() == "i'm sorry, but i can't"


def test_options_add_forbidden_phrases():
    check = RefusalCheck({"forbidden": ["lorem ipsum"]})
    (f,) = check.run([Record("1", "Write a slogan.", "Lorem ipsum for everyone!")])
    assert f.flagged and f.spans == ((0, 11),)


def test_an_ordinary_answer_passes():
    (f,) = RefusalCheck().run([Record("1", "Name a colour.", "Blue.")])
    assert not f.flagged and f.score == 0.0


def test_registered_through_the_entry_point():
    plugins = Plugins()
    assert plugins.checks.classes["refusal"] is RefusalCheck
    assert plugins.checks.owners["refusal"] == "refusal"
