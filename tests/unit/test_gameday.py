"""The game day without Docker: engines files, placement against a measured cost, the live views, the scoreboard,
and the web app's access rules and actions (with a stand-in for the drill process)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from click.testing import CliRunner

from lab.cli.app import main
from lab.drill.debrief import Debrief
from lab.drill.live import LiveState
from lab.errors import InvalidInput
from lab.gameday.capacity import EngineSlot, StackCost, TooManyStacks, load_cost, most_stacks, place, save_cost
from lab.gameday.drills import DrillPlan, Follower
from lab.gameday.engines import DockerEngine, EngineHost, load_engines
from lab.gameday.game import GameDay, Trainee
from lab.gameday.run import GameDayOptions, check_bind, choose_scenarios, listen
from lab.gameday.scoreboard import Entry, render_markdown, scoreboard
from lab.gameday.server import build_app
from lab.gameday.view import DrillView
from lab.scenario.reader import load
from lab.settings import BUILTIN_SCENARIOS, Settings

SEED_PATH = BUILTIN_SCENARIOS / "db-network-misconfig.yaml"
SCENARIO = load(SEED_PATH)
START = datetime(2026, 1, 1, tzinfo=UTC)
HERE = EngineHost("here", cpus=2, memory_mib=24 * 1024)
COST = StackCost(host="here", rate=20, stack_cpu=0.3, engine_cpu=0.1, stack_memory_mib=250, lab_cpu=0.05,
                 lab_memory_mib=100,
                 measured_at="2026-01-01 00:00 UTC", measured_s=15)


def ev(kind: str, t: float, **fields: Any) -> dict[str, Any]:
    return {"t": t, "wall": (START + timedelta(seconds=t)).isoformat(), "kind": kind, **fields}


def request(t: float, ok: bool = True, replica: str | None = "app-1", latency: float = 0.05) -> dict[str, Any]:
    return ev("request", t, ok=ok, latency_s=latency, replica=replica)


# --- engines -------------------------------------------------------------------------------------------------------
def test_engines_file_lists_docker_hosts_and_limits(tmp_path: Path) -> None:
    """Each entry becomes an engine whose processes get its DOCKER_HOST (and lose any DOCKER_CONTEXT)."""
    path = tmp_path / "engines.yaml"
    path.write_text("engines:\n  - name: here\n  - {name: second, docker_host: 'unix:///run/x.sock', max_stacks: 2}\n")
    here, second = load_engines(path)
    assert here.env == {} and here.process_env({"DOCKER_CONTEXT": "c"}) == {"DOCKER_CONTEXT": "c"}
    assert second.max_stacks == 2
    assert second.process_env({"DOCKER_CONTEXT": "c", "PATH": "/bin"}) == {"PATH": "/bin",
                                                                            "DOCKER_HOST": "unix:///run/x.sock"}


@pytest.mark.parametrize(("text", "problem"), [
    ("engines: []\n", "engines"),
    ("engines:\n  - {name: a, docker_host: 'unix:///x', context: c}\n", "not both"),
    ("engines:\n  - {name: a}\n  - {name: a}\n", "unique"),
    ("engines:\n  - {name: a, hosts: 2}\n", "engines.0.hosts"),
    ("engines:\n  - {name: a, max_stacks: 0}\n", "max_stacks"),
    ("engines: [\n", "not valid YAML at line 2, column 1"),
    ("engines:\n  - {name: a, context: no-such-context-here}\n", "no-such-context-here"),
])
def test_a_bad_engines_file_is_one_line_naming_the_field(tmp_path: Path, text: str, problem: str) -> None:
    """Every mistake in the engines file is invalid input that names the file and what is wrong."""
    path = tmp_path / "engines.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        load_engines(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


# --- capacity ------------------------------------------------------------------------------------------------------
def test_one_machine_takes_what_fits_in_its_cpu_share_and_refuses_more_with_the_figures() -> None:
    """2 cores at 75% hold three stacks of 0.45 cores; a fourth is refused, naming the cost and the budget."""
    slots = [EngineSlot("local", HERE)]
    assert most_stacks(slots, COST, HERE) == 3
    assert place(3, slots, COST, HERE) == [0, 0, 0]
    with pytest.raises(TooManyStacks) as caught:
        place(4, slots, COST, HERE)
    message = str(caught.value)
    assert "4 trainees need 4 stacks but this machine takes 3" in message
    assert "0.45 CPU cores" in message and "350 MiB" in message and "75% of 2 cores" in message


def test_stacks_already_running_count_against_the_budget() -> None:
    """Two lab stacks already up on the engine leave room for one more."""
    assert most_stacks([EngineSlot("local", HERE, running=2)], COST, HERE) == 1


def test_two_engines_on_one_host_share_it_and_take_turns() -> None:
    """A second daemon on the same machine adds no CPU: stacks alternate between the engines within one budget."""
    slots = [EngineSlot("first", HERE), EngineSlot("second", HERE)]
    assert place(3, slots, COST, HERE) == [0, 1, 0]
    assert most_stacks(slots, COST, HERE) == 3


def test_a_remote_host_adds_its_own_budget_but_drill_processes_stay_here() -> None:
    """A bigger remote host takes stacks; each one's drill process still costs this machine its share."""
    remote = EngineHost("rack", cpus=16, memory_mib=64 * 1024)
    slots = [EngineSlot("local", HERE), EngineSlot("rack", remote, max_stacks=10)]
    placed = place(12, slots, COST, HERE)
    assert placed.count(1) == 10 and placed.count(0) == 2


def test_the_measured_cost_is_kept_per_host_and_rate(tmp_path: Path) -> None:
    """A measure is reused for the same host and traffic rate only."""
    save_cost(tmp_path, COST)
    assert load_cost(tmp_path, "here", 20) == COST
    assert load_cost(tmp_path, "here", 50) is None and load_cost(tmp_path, "elsewhere", 20) is None


# --- live views --------------------------------------------------------------------------------------------------
def test_live_figures_split_requests_by_replica_over_the_window() -> None:
    """Error rate, p95 and per-replica counts cover the last 10 s; a connect failure counts under "none"."""
    live = LiveState()
    for i in range(20):
        live(request(i * 0.5, ok=i % 4 != 0, replica="app-2" if i % 4 == 0 else "app-1"))
    live(request(9.0, ok=False, replica=None, latency=3.0))
    figures = live.figures(12.0)
    assert figures.requests == 17  # those done before t=2 have left the window
    assert {load.replica: (load.requests, load.errors) for load in figures.by_replica} == {
        "app-1": (12, 0), "app-2": (4, 4), "none": (1, 1)}
    assert figures.p95_s == 3.0


def drill_events() -> list[dict[str, Any]]:
    return [
        ev("run.started", 0.0, run_id="r1"),
        *[request(t * 0.5) for t in range(20)],
        ev("fault.applied", 10.0, fault="app2-db-packets-dropped", target="app-2", fault_kind="packet-drop"),
        ev("alert.fired", 12.0, alert="error-rate-high", error_rate=0.3),
        ev("drill.ack", 14.0),
        ev("docker.container", 20.0, action="kill", service="db", role="stack"),
        ev("docker.container", 20.5, action="start", service="db", role="stack"),
        ev("docker.container", 20.6, action="restart", service="db", role="stack"),
        ev("docker.exec", 25.0, service="app-2", command="iptables -S"),
        ev("drill.exec", 30.0, service="app-2", command=["iptables", "-S", "OUTPUT"], netns=True, exit_code=0),
        ev("drill.hint", 31.0, number=1, requested=True, text="Which replica?"),
        ev("drill.fixed", 40.0),
        ev("drill.recovered", 43.0),
        ev("drill.ended", 44.0, outcome="fixed"),
    ]


def fed_view() -> DrillView:
    view = DrillView(SCENARIO)
    for event in drill_events():
        view(event)
    return view


def test_the_trainee_timeline_never_shows_the_fault_but_the_facilitators_does() -> None:
    """The fault's landing is the facilitator's alone; a restart shows as one line, not five."""
    view = fed_view()
    trainee = [line.text for line in view.timeline(for_facilitator=False)]
    facilitator = [line.text for line in view.timeline(for_facilitator=True)]
    assert not any("app2-db-packets-dropped" in text or "fault landed" in text for text in trainee)
    assert any("the fault landed: app2-db-packets-dropped" in text for text in facilitator)
    assert [text for text in trainee if text.startswith("db:")] == ["db: container restart"]
    assert "docker exec app-2 iptables -S" in trainee
    assert "lab exec --netns app-2 -- iptables -S OUTPUT (exit 0)" in trainee
    assert view.hints() == ["Which replica?"] and view.outcome == "fixed" and view.run_id == "r1"


def test_figures_stop_at_the_end_of_the_drill() -> None:
    """Once the drill has ended its page keeps the figures of its last seconds, not an empty window."""
    view = fed_view()
    assert view.now_t(START + timedelta(seconds=500)) == 44.0
    assert view.debrief().mitigated_s == 30.0


def test_the_follower_hands_over_complete_lines_only(tmp_path: Path) -> None:
    """A line still being written waits until its newline; a recording not there yet is no error."""
    path = tmp_path / "events.jsonl"
    seen: list[dict[str, Any]] = []
    follower = Follower(path, seen.append)
    follower.read_available()
    path.write_text(json.dumps(ev("drill.ack", 1.0)) + "\n" + '{"t": 2, "kind": "drill.no')
    follower.read_available()
    assert [e["kind"] for e in seen] == ["drill.ack"]
    with path.open("a") as recording:
        recording.write('te", "text": "x"}\n')
    follower.read_available()
    assert [e["kind"] for e in seen] == ["drill.ack", "drill.note"]


# --- scoreboard ----------------------------------------------------------------------------------------------------
def result(outcome: str, mitigated: float | None, hints: int = 0) -> Debrief:
    return Debrief(outcome=outcome, fault_t=10.0, acknowledged_s=5.0, identified_s=None, mitigated_s=mitigated,
                   recovered_s=None if mitigated is None else mitigated + 2, hints_used=hints,
                   original_identified_min=75, original_mitigated_min=90)


def test_scoreboard_ranks_fixes_by_time_and_puts_the_rest_after() -> None:
    """The fastest fix is first; a tie goes to fewer hints; gave up and timed out are unranked."""
    rows = scoreboard([Entry("c", "s", result("timed out", None), 3), Entry("a", "s", result("fixed", 90.0, 2), 3),
                       Entry("b", "s", result("fixed", 90.0, 1), 3), Entry("d", "s", result("gave up", None), 3)])
    assert [(row.rank, row.trainee) for row in rows] == [(1, "b"), (2, "a"), (None, "c"), (None, "d")]
    assert rows[0].mitigated == "1:30.0" and rows[0].original_mitigated == "90 min" and rows[0].hints == "1/3"
    assert "| 1 | b | s | fixed | 0:05.0 | - | 1:30.0 | 1:32.0 | 1/3 | 75 min | 90 min |" in render_markdown(rows)


# --- choosing and serving ------------------------------------------------------------------------------------------
def test_a_named_scenario_goes_to_everyone_and_a_draw_is_seeded(tmp_path: Path) -> None:
    """--scenario gives all trainees that one; a draw picks only scenarios with a fault, the same for one seed."""
    settings = Settings.from_env({"LAB_SCENARIOS_DIR": str(tmp_path)})
    quiet = SEED_PATH.read_text().split("faults:")[0] + "faults: []\ntimeline:\n  - {at: 0, action: note, text: calm}\n"
    (tmp_path / "quiet.yaml").write_text(quiet.replace("name: db-network-misconfig", "name: quiet"))
    named = choose_scenarios(GameDayOptions(trainees=2, scenario="db-network-misconfig"), settings)
    assert [loaded.name for _, loaded in named] == ["db-network-misconfig"] * 2
    drawn = choose_scenarios(GameDayOptions(trainees=6, seed=7), settings)
    assert "quiet" not in {loaded.name for _, loaded in drawn}
    assert all(path.is_file() and loaded.faults for path, loaded in drawn)
    assert drawn == choose_scenarios(GameDayOptions(trainees=6, seed=7), settings)


def test_a_draw_of_one_cause_class_gives_every_trainee_one_of_that_class(tmp_path: Path) -> None:
    """--cause dns: each trainee's scenario is of that class, with --difficulty of both; none left is one line."""
    settings = Settings.from_env({"LAB_SCENARIOS_DIR": str(tmp_path)})
    drawn = choose_scenarios(GameDayOptions(trainees=6, seed=7, cause="dns"), settings)
    assert len(drawn) == 6 and {loaded.cause for _, loaded in drawn} == {"dns"}
    assert {loaded.name for _, loaded in drawn} == {"aws-2025-dynamodb-dns", "azure-2019-dns-nxdomain"}
    hard = choose_scenarios(GameDayOptions(trainees=3, seed=7, cause="dns", difficulty="hard"), settings)
    assert {loaded.name for _, loaded in hard} == {"aws-2025-dynamodb-dns"}
    with pytest.raises(InvalidInput, match=r"^no scenario with a fault of difficulty easy and cause dns in "):
        choose_scenarios(GameDayOptions(trainees=3, cause="dns", difficulty="easy"), settings)


def test_serving_beyond_loopback_needs_a_password() -> None:
    """127.0.0.1 and ::1 need only the URL tokens; any other address also needs LAB_GAMEDAY_PASSWORD."""
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "secret")
    with pytest.raises(InvalidInput, match="needs a password"):
        check_bind("0.0.0.0", None)


def test_gameday_command_refuses_conflicting_options_in_one_line() -> None:
    """--scenario with --random or --cause, or a public address without a password: exit 2 before anything starts."""
    runner = CliRunner()
    both = runner.invoke(main, ["gameday", "--scenario", "x", "--random"])
    assert both.exit_code == 2 and "does not go with --random" in both.output
    classed = runner.invoke(main, ["gameday", "--scenario", "x", "--cause", "dns"])
    assert classed.exit_code == 2 and "does not go with --random, --difficulty or --cause" in classed.output
    public = runner.invoke(main, ["gameday", "--host", "0.0.0.0"], env={"LAB_GAMEDAY_PASSWORD": ""})
    assert public.exit_code == 2 and "needs a password" in public.output


class StandInProcess:
    """What the web layer needs of a drill process, without a drill: records the control requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.exit_code: int | None = None

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        self.requests.append({"op": op, **fields})
        return {"ok": True, "message": f"{op} done"}

    def end(self) -> None:
        self.requests.append({"op": "end"})

    def last_output_line(self) -> str:
        return ""


def game(tmp_path: Path) -> GameDay:
    plan = DrillPlan(1, "trainee-1", SCENARIO, SEED_PATH, 1, DockerEngine("local"), tmp_path / "trainee-1")
    view = DrillView(SCENARIO)
    for event in drill_events()[:-3]:
        view(event)
    trainee = Trainee(plan, StandInProcess(), view, Follower(plan.run_dir / "events.jsonl", view))  # type: ignore[arg-type]
    return GameDay(tmp_path, [trainee], ["local"])


class Served:
    """The web app on a real loopback port (uvicorn in a thread), for plain HTTP requests."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.origin + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.origin + path, timeout=10, **kwargs)


@contextmanager
def served(gameday: GameDay, password: str | None = None) -> Iterator[Served]:
    listener = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(build_app(gameday, password), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.02)
        yield Served(f"http://127.0.0.1:{listener.getsockname()[1]}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def test_each_page_opens_only_with_its_token_and_trainees_never_see_the_fault(tmp_path: Path) -> None:
    """A wrong token is a 404; the trainee's page and stream say nothing of the fault; the facilitator's do."""
    gameday = game(tmp_path)
    trainee = gameday.trainees[0]
    with served(gameday) as client:
        assert client.get("/t/not-a-token").status_code == 404
        assert client.get(f"/f/{trainee.token}").status_code == 404  # a trainee's token opens no facilitator page
        page = client.get(f"/t/{trainee.token}")
        assert page.status_code == 200 and "trainee-1 on call" in page.text
        assert client.get(f"/f/{gameday.facilitator_token}").status_code == 200
        with client.get(f"/t/{trainee.token}/stream", stream=True) as stream:
            lines = stream.iter_lines(decode_unicode=True)
            assert next(lines) == "event: snapshot"
            data = next(lines)
            assert isinstance(data, str)  # decoded
            streamed = json.loads(data.removeprefix("data: "))
        assert streamed["name"] == "trainee-1" and "fault" not in json.dumps(streamed)
    snapshot = json.dumps(trainee.trainee_snapshot(START + timedelta(seconds=41)))
    assert "app2-db-packets-dropped" not in snapshot and "packet-drop" not in snapshot
    assert "db-network-misconfig" not in snapshot and "the fault landed" not in snapshot
    facilitator = gameday.facilitator_snapshot()
    assert facilitator["drills"][0]["fault"]["id"] == "app2-db-packets-dropped"
    assert facilitator["drills"][0]["milestones"]["acknowledged"] == "0:04.0"


def test_buttons_send_the_drills_control_requests(tmp_path: Path) -> None:
    """Acknowledge, note, hint and give up go to the drill as `lab ack|note|hint|give-up` would; End to the drill."""
    gameday = game(tmp_path)
    trainee = gameday.trainees[0]
    base = f"/t/{trainee.token}/action"
    with served(gameday) as client:
        assert client.post(f"{base}/ack").json() == {"ok": True, "message": "ack done"}
        assert client.post(f"{base}/note", json={"text": " it is app-2 "}).json()["ok"]
        assert client.post(f"{base}/note", json={"text": "  "}).json() == {"ok": False,
                                                                           "error": "a note needs some text"}
        assert client.post(f"{base}/reboot").json()["ok"] is False
        assert client.post(f"/f/{gameday.facilitator_token}/drills/1/end").json()["ok"]
        assert client.post(f"/f/{gameday.facilitator_token}/drills/7/end").json()["ok"] is False
        assert client.get(f"/t/{trainee.token}/debrief").status_code == 409  # not before the drill has ended
    assert isinstance(trainee.process, StandInProcess)
    assert trainee.process.requests == [{"op": "ack"}, {"op": "note", "text": "it is app-2"}, {"op": "end"}]


def test_a_password_guards_every_page(tmp_path: Path) -> None:
    """With a password, a request without it (or with a wrong one) is a 401 even with the right token."""
    gameday = game(tmp_path)
    url = f"/f/{gameday.facilitator_token}"
    with served(gameday, password="s3cret") as client:
        assert client.get(url).status_code == 401
        assert client.get(url, auth=("any", "wrong")).status_code == 401
        assert client.get(url, auth=("any", "s3cret")).status_code == 200
