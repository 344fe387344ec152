"""Event-to-changed-recommendation latency: how soon after a PutEvents ack does GetRecommendations
answer differently?

Starts `openpersonalize serve --workers 1`, imports ML-100k, trains and deploys an
aws-user-personalization campaign and creates an event tracker. Each trial takes a user (known
ones and brand-new ones, alternately), reads their recommendations, sends one PutEvents with 5
popular movies of the genre least present in that list (a different taste), then polls
GetRecommendations until the list changes. Requests are the JSON bodies boto3 sends, posted with
keep-alive httpx clients so client-side overhead stays out of the numbers.

Three setups, one after the other in the same run: the events and the recommendations from one
server; from two `serve` processes of one machine (embedded store, one data directory); and from
two servers with separate data directories over the shared store (PostgreSQL with fsync on, one
object store), as on two machines.

    PYTHONPATH=src .venv/bin/python benchmarks/realtime_latency.py --trials 50
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import common
import httpx
import serving_common as sc

TARGET_SECONDS = 1.0
EVENTS_PER_TRIAL = 5
POLL_TIMEOUT = 10.0
MIN_RATINGS = 50  # "popular": enough ratings that the model has neighbours for the item
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Trial:
    kind: str  # "known" or "new" user
    ack_seconds: float  # the PutEvents call itself (durable write included)
    change_seconds: float | None  # PutEvents ack -> first changed GetRecommendations; None = never
    polls: int
    share_before: float  # share of the top 10 in the genre the events came from, before them
    share_after: float  # ... and in the first changed list


class Catalogue:
    """ML-100k's popular movies by genre, for picking events of a different taste."""

    def __init__(self, folder: Path) -> None:
        ratings = Counter(line.split("\t")[1] for line in (folder / "u.data").open())
        self.genres = sc.ml100k_genres(folder)
        popular = [item for item, n in ratings.most_common() if n >= MIN_RATINGS]
        self.by_genre: dict[int, list[str]] = {}
        for item in popular:
            for genre in self.genres.get(item, ()):
                self.by_genre.setdefault(genre, []).append(item)
        # Genres with enough popular movies to draw a trial's events from.
        self.usable = [g for g, items in self.by_genre.items() if len(items) >= 3 * EVENTS_PER_TRIAL]

    def different_taste(self, shown: list[str], rng: random.Random) -> tuple[int, list[str]]:
        """The usable genre least present in ``shown``, and popular movies of it not in ``shown``."""
        present = Counter(g for item in shown for g in self.genres.get(item, ()))
        genre = min(self.usable, key=lambda g: (present[g], rng.random()))
        pool = [item for item in self.by_genre[genre] if item not in shown]
        return genre, rng.sample(pool[: 6 * EVENTS_PER_TRIAL], EVENTS_PER_TRIAL)

    def share(self, items: list[str], genre: int) -> float:
        return sum(genre in self.genres.get(item, ()) for item in items) / max(len(items), 1)


def recommendations(client: httpx.Client, campaign: str, user: str) -> list[str]:
    body = json.dumps({"campaignArn": campaign, "userId": user, "numResults": 25})
    response = client.post("/recommendations", content=body, headers=JSON)
    response.raise_for_status()
    return [entry["itemId"] for entry in response.json()["itemList"]]


def run_trial(
    client: httpx.Client,
    reader: httpx.Client,
    catalogue: Catalogue,
    campaign: str,
    tracking_id: str,
    user: str,
    kind: str,
    rng: random.Random,
) -> Trial:
    before = recommendations(reader, campaign, user)
    genre, items = catalogue.different_taste(before, rng)
    now = time.time()
    events = [{"eventType": "rating", "itemId": item, "sentAt": now} for item in items]
    body = json.dumps(
        {"trackingId": tracking_id, "userId": user, "sessionId": f"s-{user}", "eventList": events}
    )
    sent = time.perf_counter()
    client.post("/events", content=body, headers=JSON).raise_for_status()
    acked = time.perf_counter()
    polls = 0
    while True:
        after = recommendations(reader, campaign, user)
        polls += 1
        now_s = time.perf_counter()
        if after != before:
            changed: float | None = now_s - acked
        elif now_s - acked > POLL_TIMEOUT:
            changed = None
        else:
            time.sleep(0.001)
            continue
        shares = catalogue.share(before[:10], genre), catalogue.share(after[:10], genre)
        return Trial(kind, acked - sent, changed, polls, *shares)


SETUPS = ("one server", "two processes, one machine", "two servers, shared store")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--setup", choices=[*SETUPS, "all"], default="all")
    args = parser.parse_args()
    folder = sc.ml100k_dir()
    catalogue = Catalogue(folder)
    print(f"machine: {common.machine()}; load average {os.getloadavg()[0]:.1f}")
    for setup in SETUPS if args.setup == "all" else [args.setup]:
        with tempfile.TemporaryDirectory(prefix="op-bench-rt-") as tmp, contextlib.ExitStack() as stack:
            csv_path = Path(tmp) / "ml-100k.csv"
            sc.write_ml100k_csv(folder, csv_path)
            first, second = start_setup(setup, Path(tmp), stack)
            trials = run_trials(first.url, second.url, catalogue, csv_path, args.trials)
        print(f"\n{setup}:")
        report(trials)


def start_setup(setup: str, tmp: Path, stack: contextlib.ExitStack) -> tuple[common.Server, common.Server]:
    """The server that takes the events and the one asked for recommendations."""
    if setup == "one server":
        server = stack.enter_context(common.running_server(tmp / "data", workers=1))
        return server, server
    if setup == "two processes, one machine":
        first = stack.enter_context(common.running_server(tmp / "data", workers=1))
        return first, stack.enter_context(common.running_server(tmp / "data", workers=0))
    shared = {
        "metadata_url": stack.enter_context(common.durable_postgres()),
        "object_url": (tmp / "objects").as_uri(),
    }
    first = stack.enter_context(common.running_server(tmp / "machine-a", workers=1, **shared))
    return first, stack.enter_context(common.running_server(tmp / "machine-b", workers=0, **shared))


def run_trials(
    writer_url: str, reader_url: str, catalogue: Catalogue, csv_path: Path, count: int
) -> list[Trial]:
    rng = random.Random(5)
    personalize = common.client("personalize", writer_url)
    group, dataset = common.create_interactions_dataset(personalize, "ml-100k")
    sc.import_csv(personalize, dataset, csv_path, "ml-100k")
    trained = sc.train(personalize, group, "aws-user-personalization", "up")
    campaign = sc.deploy(personalize, trained.version_arn, "up")
    tracking_id = personalize.create_event_tracker(name="rt", datasetGroupArn=group)["trackingId"]
    known = rng.sample(range(1, 944), count)
    trials = []
    with (
        httpx.Client(base_url=writer_url, timeout=30) as client,
        httpx.Client(base_url=reader_url, timeout=30) as reader,
    ):
        recommendations(reader, campaign, "warm-up")  # loads the model
        for n in range(count):
            kind = "known" if n % 2 == 0 else "new"
            user = str(known[n]) if kind == "known" else f"newcomer-{n}"
            trials.append(run_trial(client, reader, catalogue, campaign, tracking_id, user, kind, rng))
    return trials


def report(trials: list[Trial]) -> None:
    rows = []
    for kind in ("known", "new", "all"):
        chosen = [t for t in trials if kind in ("all", t.kind)]
        changed = [t.change_seconds for t in chosen if t.change_seconds is not None]
        change = sc.latency_summary(changed)
        ack = sc.latency_summary([t.ack_seconds for t in chosen])
        rows.append(
            [
                kind,
                len(chosen),
                len(chosen) - len(changed),
                f"{change['p50_ms']:.1f}",
                f"{change['p99_ms']:.1f}",
                f"{change['max_ms']:.1f}",
                f"{max(t.polls for t in chosen)}",
                f"{ack['p50_ms']:.1f}",
                f"{ack['p99_ms']:.1f}",
                f"{mean(t.share_before for t in chosen):.0%} -> {mean(t.share_after for t in chosen):.0%}",
            ]
        )
    print()
    sc.print_table(
        [
            "users",
            "trials",
            "unchanged",
            "ack->changed p50 ms",
            "p99 ms",
            "max ms",
            "max polls",
            "PutEvents p50 ms",
            "PutEvents p99 ms",
            "top 10 in the events' genre",
        ],
        rows,
    )
    worst = max((t.change_seconds for t in trials if t.change_seconds is not None), default=float("inf"))
    missed = any(t.change_seconds is None for t in trials) or worst > TARGET_SECONDS
    print(
        f"\ntarget: every change visible <= {TARGET_SECONDS:.0f} s after the ack -> {'MISSED' if missed else 'met'}"
    )


if __name__ == "__main__":
    main()
