"""Registers the built-in checks through the `workbench` entry-point group."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_checks(register):
    from .hallucination import HallucinationCheck
    from .inconsistency import InconsistencyCheck
    from .length import LengthCheck
    from .misspelling import MisspellingCheck
    from .repetition import RepetitionCheck

    register(HallucinationCheck)
    register(InconsistencyCheck)
    register(LengthCheck)
    register(MisspellingCheck)
    register(RepetitionCheck)
