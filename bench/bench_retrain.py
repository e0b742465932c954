"""End-to-end retrain benchmark: `manage.py retrain` from command start to published run, side by side with
the seed-equivalent reference (the tutorial's retrain in pyspark.ml, ../shared/bench/seed_equivalent.py) on the
same ratings, in the same run, so the figure holds as a ratio on machines of different speed.

    .venv/bin/python bench/bench_retrain.py small --repeat 3          # ml-latest-small (goal: ratio <= 1.0)
    .venv/bin/python bench/bench_retrain.py synthetic-25m             # 25M ratings, 162K users, 59K movies
                                                                      # (goal: <= 240 s, peak <= 8 GB,
                                                                      #  top-N + similar <= 25 s)
    .venv/bin/python bench/bench_retrain.py small --no-seed-equivalent --list-rank 16   # extra args: retrain's

Each dataset lives in its own database on BENCH_DATABASE_SERVER (default 127.0.0.1:5432), named after
DATABASE_URL's database (`<name>_bench_small`, `<name>_bench_25m`) so parallel worktrees keep theirs apart,
created and loaded on first use and reused afterwards. The synthetic data set is written as a CSV folder first
(var/bench-data/synthetic-25m) and imported from it, so the seed-equivalent reads exactly the ratings the retrain
trains on. Each repetition runs the seed-equivalent and the retrain, alternating which goes first; the ratios are
retrain / seed-equivalent of that pair, to the retrain's "[publish]" line (the goal: command start to published; an
evaluation deferred past the publish runs after it) and to the command's end. Peak memory is the largest summed RSS
of a command's whole process tree (Python driver, JVM, Python workers), sampled every 0.2 s. CPU is the user +
system seconds of that whole tree, every descendant included: the script makes itself the tree's subreaper (Linux
prctl), so a process orphaned by its parent (Spark's Python workers, a JVM its launcher did not wait for) is reaped
here and its time counted; the CPU ratio of a pair moves less with the machine's load than the wall-time ratio (a
loaded machine stretches the wall time of both, but mostly not the CPU work each does); the tree's CPU is also
printed per progress line, so each stage's share shows under any load. Before each 25M job the script waits until
10 GiB are available.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psutil

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
# ../shared from the main checkout; a worktree one level deeper finds it one level further up.
SEED_EQUIVALENT = Path(
    os.environ.get(
        "SEED_EQUIVALENT",
        next(
            (str(p) for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()),
            str(ROOT.parent / "shared"),
        ),
    )
)
if SEED_EQUIVALENT.is_dir():
    SEED_EQUIVALENT = SEED_EQUIVALENT / "bench" / "seed_equivalent.py"
SYNTHETIC_CSV = ROOT / "var" / "bench-data" / "synthetic-25m"
BIG_JOB_FREE_GIB = 10


def manage(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=check, capture_output=True, text=True
    )


def ensure_database(name: str) -> None:
    subprocess.run(["psql", f"{SERVER}/postgres", "-qc", f"CREATE DATABASE {name}"], capture_output=True)


def movie_count(env: dict) -> int:
    out = manage("shell", "-c", "from catalog.models import Movie; print(Movie.objects.count())", env=env)
    return int(out.stdout.strip().splitlines()[-1])


def wait_for_memory(gib: float) -> None:
    """Block until `gib` GiB are available (other engineers' big jobs share this machine)."""
    while (available := psutil.virtual_memory().available / 2**30) < gib:
        print(f"  waiting: {available:.1f} GiB available, need {gib}", flush=True)
        time.sleep(15)


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so `tree_cpu_seconds` counts every process of a command's tree."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_orphans() -> None:
    """Wait for every remaining descendant (adopted orphans), so their CPU time lands in RUSAGE_CHILDREN."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu_seconds(root: psutil.Process) -> float:
    """User + system seconds so far of `root` and its live descendants, with the children each has reaped."""
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass(frozen=True)
class Timing:
    """One command's run: wall seconds, peak RSS of its process tree, its output, the tree's CPU seconds; and, for a
    retrain, the same two figures at its "[publish]" line (the run is serving from then on; an evaluation deferred
    past the publish runs after it), None when it printed none."""

    seconds: float
    peak: int
    output: str
    cpu: float
    published_seconds: float | None = None
    published_cpu: float | None = None
    # (stage label, CPU seconds of the tree since the previous progress line) for every "[stage]" line.
    stage_cpu: tuple[tuple[str, float], ...] = ()


def timed(command: list[str], env: dict, *, echo: bool = True) -> Timing:
    """Run `command`, echo its progress lines with the time since start, and measure it (`Timing`)."""
    reap_orphans()
    cpu_before = children_cpu_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    root = psutil.Process(proc.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    published_seconds = published_cpu = None
    stage_cpu, cpu_then = [], 0.0
    for line in proc.stdout:
        if line.startswith("[") and not line.startswith("[Stage") and "]" in line:
            cpu_now = tree_cpu_seconds(root) + children_cpu_seconds() - cpu_before
            stage_cpu.append((line[1 : line.index("]")], cpu_now - cpu_then))
            cpu_then = cpu_now
            if line.startswith("[publish]") and published_seconds is None:
                published_seconds = time.perf_counter() - start
                published_cpu = cpu_now
        if echo and (
            (line.startswith("[") and not line.startswith("[Stage"))
            or "published" in line
            or "failed" in line
            or "seed-equivalent" in line
        ):
            print(f"  {time.perf_counter() - start:7.1f}s  {line.rstrip()}", flush=True)
        lines.append(line)
    proc.wait()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    reap_orphans()
    cpu = children_cpu_seconds() - cpu_before
    if proc.returncode != 0:
        print("".join(lines[-40:]))
        raise SystemExit(f"{command[1]} failed with exit code {proc.returncode}")
    return Timing(elapsed, peak, "".join(lines), cpu, published_seconds, published_cpu, tuple(stage_cpu))


def stage_seconds(output: str) -> dict[str, float]:
    """Stage durations from the retrain's progress lines ("[fit] ... in 4.5s")."""
    stages = {}
    for match in re.finditer(r"^\[([\w-]+)\] .* in ([0-9.]+)s", output, re.MULTILINE):
        stages[match.group(1)] = float(match.group(2))
    return stages


def load_dataset(dataset: str, env: dict) -> Path:
    """Load the data set into the bench database on first use; return the ratings.csv the seed-equivalent reads."""
    if dataset == "small":
        folder = ROOT / "data" / "ml-latest-small"
    else:
        folder = SYNTHETIC_CSV
        if not (folder / "ratings.csv").exists():
            print(f"writing the synthetic data set to {folder} ...", flush=True)
            manage("generate_movielens_synthetic", "--csv-dir", str(folder), "--no-progress", env=env)
    if movie_count(env) == 0:
        print(f"loading {folder} ...", flush=True)
        start = time.perf_counter()
        manage("import_movielens", str(folder), "--no-progress", env=env)
        print(f"  loaded in {time.perf_counter() - start:.1f}s", flush=True)
    return folder / "ratings.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["small", "synthetic-25m"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--no-seed-equivalent", action="store_true", help="time the retrain alone, without the reference"
    )
    args, retrain_args = parser.parse_known_args()  # anything else goes to manage.py retrain

    base = urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "movierec"
    name = f"{base}_bench_{ {'small': 'small', 'synthetic-25m': '25m'}[args.dataset] }"
    ensure_database(name)
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{name}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 60,
        "SECURE_SSL_REDIRECT": "0",
        # Run folders are named by run id: keep each benchmark database's apart from the site's.
        "TRAINING_RUNS_DIR": os.environ.get("TRAINING_RUNS_DIR", str(ROOT / "var" / "bench-runs" / name)),
    }
    if args.dataset == "synthetic-25m":
        env.setdefault("SPARK_DRIVER_MEMORY", "10g")
    become_subreaper()
    manage("migrate", "-v0", env=env)
    ratings_csv = load_dataset(args.dataset, env)
    seed_env = {**os.environ}
    if args.dataset == "synthetic-25m":  # as seed_equivalent.py's docstring sizes it for 25M ratings
        seed_env.setdefault("SEED_DRIVER_MEMORY", "16g")
        seed_env.setdefault("SEED_PARTITIONS", "16")

    pairs = []
    for attempt in range(args.repeat):
        label = f"{args.dataset} (run {attempt + 1}/{args.repeat}"
        seed = None
        # Alternate which goes first, so neither always runs on a JVM-warmed page cache or a quieter minute.
        if args.no_seed_equivalent:
            retrain = run_retrain(label, args.dataset, retrain_args, env)
        elif attempt % 2 == 0:
            seed = run_seed(label, args.dataset, ratings_csv, seed_env)
            retrain = run_retrain(label, args.dataset, retrain_args, env)
        else:
            retrain = run_retrain(label, args.dataset, retrain_args, env)
            seed = run_seed(label, args.dataset, ratings_csv, seed_env)
        if seed is not None:
            pairs.append((seed, retrain))
            print(f"==> pair {attempt + 1}: {pair_ratios(seed, retrain)}", flush=True)
    if pairs:
        print("ratios retrain / seed-equivalent, per pair:", flush=True)
        for number, (seed, retrain) in enumerate(pairs, 1):
            print(f"  {number}: {pair_ratios(seed, retrain)}", flush=True)


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def run_seed(label: str, dataset: str, ratings_csv: Path, env: dict) -> Timing:
    if dataset == "synthetic-25m":
        wait_for_memory(BIG_JOB_FREE_GIB)
    print(f"seed-equivalent {label}, load {load()})", flush=True)
    timing = timed([sys.executable, str(SEED_EQUIVALENT), str(ratings_csv)], env)
    print(
        f"==> seed-equivalent: {timing.seconds:.1f}s, CPU {timing.cpu:.1f}s, peak memory "
        f"{timing.peak / 2**30:.2f} GiB (load average {load()})",
        flush=True,
    )
    return timing


def run_retrain(label: str, dataset: str, retrain_args: list[str], env: dict) -> Timing:
    if dataset == "synthetic-25m":
        wait_for_memory(BIG_JOB_FREE_GIB)
    print(f"retrain {label}, load {load()})", flush=True)
    timing = timed([sys.executable, str(ROOT / "manage.py"), "retrain", *retrain_args], env)
    stages = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in stage_seconds(timing.output).items())
    published = (
        f"published at {timing.published_seconds:.1f}s (CPU {timing.published_cpu:.1f}s), "
        if timing.published_seconds is not None
        else ""
    )
    print(
        f"==> {dataset}: {published}{timing.seconds:.1f}s end to end (CPU {timing.cpu:.1f}s), peak memory "
        f"{timing.peak / 2**30:.2f} GiB (load average {load()}); {stages}",
        flush=True,
    )
    # Up to the first line: Python and Django start, the JVM start overlapping the export.
    print("    CPU up to each progress line: " + ", ".join(f"{label} {cpu:.1f}s" for label, cpu in timing.stage_cpu))
    return timing


def pair_ratios(seed: Timing, retrain: Timing) -> str:
    """A pair's ratios: to the publish (the goal: command start to published) and to the command's end, in wall
    time and in CPU seconds of the process trees."""
    parts = []
    if retrain.published_seconds is not None:
        parts.append(
            f"published {retrain.published_seconds / seed.seconds:.2f} wall, {retrain.published_cpu / seed.cpu:.2f} CPU"
        )
    parts.append(f"end to end {retrain.seconds / seed.seconds:.2f} wall, {retrain.cpu / seed.cpu:.2f} CPU")
    return "; ".join(parts) + f" (seed-equivalent {seed.seconds:.1f}s, CPU {seed.cpu:.1f}s)"


if __name__ == "__main__":
    main()
