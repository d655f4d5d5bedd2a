"""Run every benchmark module (or those named) and print one table; write JSON.

    python -m bench [NAME ...] [--out bench/results/latest.json] [--quick]

Each module runs in a process of its own (a fresh interpreter: no CPU pinning, thread setting or
memory of one benchmark leaks into the next); every comparison inside a module is measured side
by side in that one process. ``--quick`` (or env BENCH_QUICK=1) runs each benchmark's smallest
configuration, a smoke run whose figures are not measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import pkgutil
import platform
import subprocess
import sys
import tempfile
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


def _machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    return info


def run_one(name: str) -> dict:
    """Run ``bench.<name>.run()`` in a child process; its figures, or an error."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(bench.ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        proc = subprocess.run([sys.executable, "-m", "bench", "--child", name, "--out", str(out)],
                              cwd=bench.ROOT, env=env, check=False)
        if proc.returncode != 0 or not out.exists():
            return {"error": f"exit status {proc.returncode} (traceback above)"}
        return json.loads(out.read_text())


def _child(name: str, out: str) -> int:
    import importlib

    figures = importlib.import_module(f"bench.{name}").run() or {}
    figures["_peak_rss_mb"] = bench.peak_rss_mb()
    Path(out).write_text(json.dumps(figures, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {_modules()})")
    ap.add_argument("--out", default=None, help="JSON file (default bench/results/latest.json, "
                    "or quick.json with --quick)")
    ap.add_argument("--quick", action="store_true", help="smallest configurations (BENCH_QUICK=1)")
    ap.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args.child, args.out)
    if args.quick:
        os.environ["BENCH_QUICK"] = "1"
    names = args.names or _modules()
    unknown = sorted(set(names) - set(_modules()))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; known: {_modules()}")
    results: dict = {
        "machine": _machine(),
        "quick": bench.quick(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "benchmarks": {},
    }
    failed = 0
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            figures = run_one(name)
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            traceback.print_exc()
            figures = {"error": f"{type(exc).__name__}: {exc}"}
        failed += "error" in figures
        figures["_seconds"] = round(time.perf_counter() - t0, 1)
        results["benchmarks"][name] = figures
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(f"{'benchmark':<22} {'figure':<52} value")
    for name, figures in results["benchmarks"].items():
        flat: dict = {}
        _flatten("", figures, flat)
        for k, v in flat.items():
            v = f"{v:.4g}" if isinstance(v, float) else v
            print(f"{name:<22} {k:<52} {v}")
    default = "quick.json" if bench.quick() else "latest.json"
    out = Path(args.out or bench.ROOT / "bench" / "results" / default)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
