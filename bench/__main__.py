"""Run every benchmark module (or those named) and print one table; write JSON.

    python -m bench [NAME ...] [--out bench/results/latest.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

import bench


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {_modules()})")
    ap.add_argument("--out", default=str(bench.ROOT / "bench" / "results" / "latest.json"))
    args = ap.parse_args(argv)
    names = args.names or _modules()
    results: dict = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "benchmarks": {},
    }
    failed = 0
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"bench.{name}")
            figures = mod.run()
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            traceback.print_exc()
            figures = {"error": f"{type(exc).__name__}: {exc}"}
            failed += 1
        figures = figures or {}
        figures["_seconds"] = round(time.perf_counter() - t0, 1)
        results["benchmarks"][name] = figures
    print()
    print(f"{'benchmark':<22} {'figure':<48} value")
    for name, figures in results["benchmarks"].items():
        flat: dict = {}
        _flatten("", figures, flat)
        for k, v in flat.items():
            v = f"{v:.4g}" if isinstance(v, float) else v
            print(f"{name:<22} {k:<48} {v}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
