"""Training at scale: generated Zipf-like interactions, imported, then CreateSolutionVersion -> ACTIVE.

Writes ``--rows`` interactions (users = rows / 10, items = rows / 100 by default, Zipf-like
popularity on both), starts `openpersonalize serve --workers 1`, imports the file and trains
each recipe in turn through boto3. Prints the client-observed seconds to ACTIVE and the peak
RSS of the worker process during the training.

    PYTHONPATH=src .venv/bin/python benchmarks/train_scale.py --rows 10000000
    PYTHONPATH=src .venv/bin/python benchmarks/train_scale.py --rows 50000000 --dir /var/tmp
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import common
import import_job
import serving_common as sc

# Targets per recipe and size: seconds to ACTIVE and peak GiB.
TARGETS = {
    ("aws-user-personalization", 10_000_000): (60.0, None),
    ("aws-user-personalization", 50_000_000): (900.0, 16.0),
    ("aws-user-personalization-v2", 10_000_000): (1800.0, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=0, help="default rows / 10")
    parser.add_argument("--items", type=int, default=0, help="default rows / 100")
    parser.add_argument("--recipes", default="aws-user-personalization")
    parser.add_argument("--dir", default=None, help="where the CSV and data go (default: the temp dir)")
    args = parser.parse_args()
    users, items = args.users or args.rows // 10, args.items or args.rows // 100
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    print(f"machine: {common.machine()}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="op-bench-scale-", dir=args.dir) as tmp:
        csv_path = Path(tmp) / "interactions.csv"
        started = time.perf_counter()
        import_job.generate(csv_path, args.rows, users=users, items=items, seed=1)
        print(
            f"generated {args.rows:,} rows ({users:,} users, {items:,} items) in {time.perf_counter() - started:.0f}s"
        )
        with common.running_server(Path(tmp) / "data", workers=1) as server:
            personalize = common.client("personalize", server.url)
            group, dataset = common.create_interactions_dataset(personalize, "scale")
            seconds = sc.import_csv(personalize, dataset, csv_path, "scale", timeout=3600)
            print(f"import: {seconds:.1f}s")
            csv_path.unlink()  # the import holds its own copy; free the disk for the model
            rows = []
            for recipe in recipes:
                with import_job.RssSampler(server.proc.pid, 0.2) as rss:
                    trained = sc.train(personalize, group, recipe, recipe.removeprefix("aws-"), timeout=7200)
                peak_gib = rss.peak / 2**30
                # The targets are set for the default shape (users = rows / 10, items = rows / 100).
                shaped = not (args.users or args.items)
                seconds_target, memory_target = (
                    TARGETS.get((recipe, args.rows), (None, None)) if shaped else (None, None)
                )
                verdict = []
                if seconds_target is not None:
                    verdict.append(
                        f"<= {seconds_target:.0f} s: {'met' if trained.seconds <= seconds_target else 'MISSED'}"
                    )
                if memory_target is not None:
                    verdict.append(
                        f"<= {memory_target:.0f} GiB: {'met' if peak_gib <= memory_target else 'MISSED'}"
                    )
                rows.append([recipe, f"{trained.seconds:.1f}", f"{peak_gib:.2f}", "; ".join(verdict)])
                time.sleep(0.5)
    sc.print_table(["recipe", "to ACTIVE (s)", "worker peak RSS (GiB)", "target"], rows)


if __name__ == "__main__":
    main()
