"""The embedded demo: a small deterministic checkpoint built on the CPU with no download, the demo
suite it is meant for, and the function behind `workbench demo`.

Nothing heavy is imported here: torch and transformers load only when a model is built or run.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DEMO_SUITE = DATA_DIR / "demo.yaml"  # suites/demo.yaml in a source checkout is a link to it


def ensure_demo_model(rebuild: bool = False, progress: bool = True, small: bool = False,
                      settings=None) -> Path:  # noqa: ANN001 - BuildSettings, imported lazily
    """The demo model's directory (loadable by AutoModelForCausalLM/AutoTokenizer).

    Built on first use, then cached under $WORKBENCH_HOME/demo-model-v1/<hash of corpus and
    settings>. ``rebuild`` builds it again; ``small`` builds a tiny untrained variant (tests).
    """
    from . import build

    if settings is None:
        settings = build.BuildSettings.small() if small else build.DEFAULT_SETTINGS
    ensure_model, model_dir = build.ensure_model, build.model_dir
    if not progress or (not rebuild and (model_dir(settings) / "demo_build.json").exists()):
        return ensure_model(settings, rebuild=rebuild)
    from ..cli.common import progress as progress_bar

    with progress_bar(transient=True) as bar:
        task = bar.add_task("building the demo model", total=settings.steps, rate="")

        def report(step: int, total: int, loss: float) -> None:
            bar.update(task, completed=step, rate=f"loss {loss:.3f}")

        return ensure_model(settings, rebuild=rebuild, report=report)


def run_demo(store, rebuild: bool = False, progress: bool = True, small: bool = False,
             checks=None):  # noqa: ANN001, ANN201 - Store and RunResult imported lazily
    """Build (or reuse) the demo model and run the demo suite on it; return the RunResult."""
    from ..models import load_model
    from ..runner import run_suite
    from ..suites import load_suite

    model_path = ensure_demo_model(rebuild=rebuild, progress=progress, small=small)
    loaded = load_model(str(model_path), name="demo-base", device="cpu")
    return run_suite(store, loaded, load_suite(DEMO_SUITE), batch_size=32, checks=checks,
                     progress=progress)


__all__ = ["DEMO_SUITE", "ensure_demo_model", "run_demo"]
