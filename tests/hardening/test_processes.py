"""`serve --processes N`: several server processes share one port and one store, so a machine's
cores all answer; a dead one is replaced, and all end with the `serve` process."""

from __future__ import annotations

import time

import httpx
import psutil
import pytest

from tests.api.clustered import item, write_clustered_csv
from tests.api.helpers import import_csv, make_group, wait_for
from tests.fixtures.process import serve

pytestmark = pytest.mark.integration
UP = "arn:aws:personalize:::recipe/aws-user-personalization"


def _servers(parent: psutil.Process) -> list[psutil.Process]:
    found = [parent]
    for child in parent.children():
        try:
            if "serve" in child.cmdline():
                found.append(child)
        except psutil.Error:  # ended meanwhile (a zombie until the supervisor reaps it)
            continue
    return found


def _listeners(parent: psutil.Process, port: int) -> set[int]:
    """The pids with a socket listening on the port."""
    pids = set()
    for proc in _servers(parent):
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in proc.net_connections()):
                pids.add(proc.pid)
        except psutil.Error:
            continue
    return pids


def test_server_processes_share_the_port_and_the_store(tmp_path):
    server = serve(tmp_path / "data", "--processes", "2", min_import_interactions=10)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        parent = psutil.Process(server.proc.pid)
        deadline = time.time() + 30
        while len(_listeners(parent, port)) < 2:
            assert time.time() < deadline, "the second server process never listened"
            time.sleep(0.1)
        personalize = server.client("personalize")
        arns = make_group(personalize)
        assert (
            import_csv(personalize, arns["dataset"], write_clustered_csv(tmp_path / "c.csv"))["status"]
            == "ACTIVE"
        )
        tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
        solution = personalize.create_solution(name="s", datasetGroupArn=arns["group"], recipeArn=UP)[
            "solutionArn"
        ]
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 60
        )
        campaign = personalize.create_campaign(name="c", solutionVersionArn=version)["campaignArn"]

        # Events taken by whichever process answers the PutEvents reach every process's answers.
        server.client("personalize-events").put_events(
            trackingId=tracking,
            userId="traveller",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": item(3, i), "sentAt": time.time()} for i in range(5)],
        )
        time.sleep(1.0)  # followers read each other's segments four times a second
        body = {"campaignArn": campaign, "userId": "traveller", "numResults": 10}
        answers = set()
        for _ in range(40):  # a new connection each time: the kernel spreads them over the processes
            with httpx.Client() as client:
                listed = client.post(f"{server.url}/recommendations", json=body).json()["itemList"]
            answers.add(tuple(r["itemId"] for r in listed))
        assert len(answers) == 1  # every process gives the same, up-to-date answer
        assert sum(i.startswith("g3-") for i in next(iter(answers))) >= 8

        # A server process that dies is replaced.
        [child] = [p for p in _servers(parent) if p.pid != parent.pid]
        child.kill()
        deadline = time.time() + 30
        while len(_listeners(parent, port) - {child.pid}) < 2:
            assert time.time() < deadline, "the dead server process was not replaced"
            time.sleep(0.2)

        # kill -9 of serve alone: the processes it started end too.
        children = parent.children()
        parent.kill()
        parent.wait(10)
        gone, alive = psutil.wait_procs(children, timeout=15)
        for proc in alive:
            proc.kill()
        assert not alive, "processes outlived their serve process"
    finally:
        server.stop()
