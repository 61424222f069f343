"""`lab gameday` end to end: choose the scenarios, put the lab's images on every engine, check that the stacks fit,
start one drill process per trainee, serve the pages until the facilitator closes the game day, end what still
runs, and write the scoreboard. Whatever stops it (the close button, Ctrl-C, SIGTERM, an error), every drill is
ended and waited for; a drill that does not end in time is killed, and its own reaper removes its stack."""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import uvicorn

from lab.errors import InvalidInput, PortInUse
from lab.gameday.capacity import EngineSlot, StackCost, load_cost, measure, place, save_cost, this_machine
from lab.gameday.drills import DrillPlan
from lab.gameday.engines import DockerEngine, EngineHost, copy_images, host_of, load_engines
from lab.gameday.game import GameDay, Trainee
from lab.gameday.scoreboard import Row
from lab.gameday.server import build_app
from lab.play.preflight import check_scripts
from lab.record.run_dir import check_run_dir, new_run_dir, prepare_run_dir
from lab.scenario import library
from lab.scenario.document import Scenario
from lab.scenario.reader import load, resolve
from lab.settings import Settings
from lab.signals import run_guarded
from lab.stack import images
from lab.stack.runs import running_run_ids

END_WAIT_S = 180.0
"""How long an ended drill may take to revert its fault and remove its stack before it is killed."""
Say = Callable[[str], None]


@dataclass(frozen=True)
class GameDayOptions:
    trainees: int = 3
    scenario: str | None = None
    """Every trainee drills this scenario; None: each draws one from the library (seeded)."""
    difficulty: str | None = None
    """Draw only scenarios of this difficulty."""
    cause: str | None = None
    """Draw only scenarios of this cause class."""
    seed: int = 0
    engines_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    password: str | None = None
    inject_after_s: float | None = None
    max_duration_s: float | None = None
    out_dir: Path | None = None
    remeasure: bool = False


@dataclass(frozen=True)
class GameDayResult:
    directory: Path
    scoreboard: list[Row]


def choose_scenarios(options: GameDayOptions, settings: Settings) -> list[tuple[Path, Scenario]]:
    """The scenario of each trainee: the one named, or one drawn per trainee (seeded) from what `lab drill --random`
    draws from."""
    if options.scenario is not None:
        path = resolve(options.scenario, settings.scenario_dirs)
        loaded = load(path)
        if not loaded.faults:
            raise InvalidInput(f"scenario {loaded.name} has no fault to drill on")
        return [(path, loaded)] * options.trainees
    pool = library.drillable(settings.scenario_dirs, options.difficulty, options.cause)
    draw = random.Random(f"gameday:{options.seed}")
    return [(entry.path, entry.scenario) for entry in (draw.choice(pool) for _ in range(options.trainees))
            if entry.scenario is not None]


def check_bind(host: str, password: str | None) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError as exc:
        raise InvalidInput(f"--host must be an IP address or localhost, got {host!r}") from exc
    if not loopback and not password:
        raise InvalidInput(f"serving on {host} (beyond this machine) needs a password: set LAB_GAMEDAY_PASSWORD")


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise PortInUse(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    listener.listen(64)
    return listener


def run_gameday(options: GameDayOptions, settings: Settings, say: Say) -> GameDayResult:
    check_bind(options.host, options.password)
    if options.out_dir is not None:
        check_run_dir(options.out_dir)  # a bad --out is said before any engine is asked, as for `lab run`
    chosen = choose_scenarios(options, settings)
    for _, scenario in chosen:  # said once here, rather than by each trainee's drill once the game day is up
        check_scripts(scenario, settings.script_dirs)
    engines = load_engines(options.engines_file)
    clients = [engine.connect() for engine in engines]
    lab_images = images.build_images(clients[0], settings, say)
    for client in clients[1:]:
        copy_images(clients[0], client, lab_images, say)
    hosts = [host_of(client) for client in clients]
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    cost = _stack_cost(engines[0], clients[0], hosts[0], chosen, options, settings, say)
    slots = [EngineSlot(engine.name, host, len(running_run_ids(client)), engine.max_stacks)
             for engine, host, client in zip(engines, hosts, clients, strict=True)]
    placements = place(options.trainees, slots, cost, this_machine())
    say(cost.summary())
    directory = prepare_run_dir(
        options.out_dir or new_run_dir(settings.runs_dir, "gameday"))
    plans = [DrillPlan(index=i + 1, name=f"trainee-{i + 1}", scenario=loaded, scenario_path=path.resolve(),
                       seed=options.seed * 1000 + i + 1, engine=engines[placements[i]],
                       home=directory / f"trainee-{i + 1}", inject_after_s=options.inject_after_s,
                       max_duration_s=options.max_duration_s, script_dirs=settings.script_dirs)
             for i, (path, loaded) in enumerate(chosen)]
    listener = listen(options.host, options.port)
    game = GameDay(directory, [Trainee.of(plan, dict(os.environ)) for plan in plans],
                   [f"{engine.name} ({engine.address})" for engine in engines])
    outcome = run_guarded(lambda: _play(game, listener, options, say))
    game.write_records()
    outcome.raise_if_stopped()
    return GameDayResult(directory, game.scoreboard())


def _stack_cost(engine: DockerEngine, client: docker.DockerClient, host: EngineHost,
                chosen: list[tuple[Path, Scenario]], options: GameDayOptions, settings: Settings,
                say: Say) -> StackCost:
    """The cost of a stack at the busiest chosen scenario's traffic rate: as measured before, or measured now on the
    first engine (the others are taken to cost the same)."""
    path, busiest = max(chosen, key=lambda item: item[1].traffic.rate)
    known = None if options.remeasure else load_cost(settings.runs_dir, host.name, busiest.traffic.rate)
    if known is not None:
        return known
    work = settings.runs_dir / f".measure-{os.getpid()}"
    try:
        cost = measure(engine, client, host, busiest, path.resolve(), work, say, settings.script_dirs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save_cost(settings.runs_dir, cost)
    return cost


def _play(game: GameDay, listener: socket.socket, options: GameDayOptions, say: Say) -> None:
    """Start every drill (processes first, from this thread: see DrillProcess.start), serve, and end them all."""
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        for trainee in game.trainees:
            trainee.process.start()
        for trainee in game.trainees:
            trainee.follower.start()
        game.write_records()
        config = uvicorn.Config(build_app(game, options.password), log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=3)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="web", daemon=True)
        thread.start()
        host, port = listener.getsockname()[:2]
        origin = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        say(f"game day in {game.directory}")
        print(f"facilitator  {origin}/f/{game.facilitator_token}", flush=True)
        for trainee in game.trainees:
            print(f"{trainee.name:12} {origin}/t/{trainee.token}  ({trainee.plan.engine.name})", flush=True)
        _serve_until_closed(game)
    finally:
        _end_all(game, say)
        for trainee in game.trainees:
            trainee.follower.stop()
        game.write_records()
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=10)
        listener.close()


def _serve_until_closed(game: GameDay) -> None:
    """Until the facilitator closes the game day; meanwhile keep the records current as drills end."""
    ended = 0
    while not game.closing.wait(1.0):
        now_ended = sum(trainee.ended for trainee in game.trainees)
        if now_ended != ended:
            ended = now_ended
            game.write_records()


def _end_all(game: GameDay, say: Say) -> None:
    running = [trainee for trainee in game.trainees if not trainee.ended]
    if running:
        say(f"ending {len(running)} drill(s) still running: faults reverted, stacks removed")
    for trainee in running:
        trainee.process.end()
    for trainee in running:
        if trainee.process.wait(END_WAIT_S) is None:
            say(f"{trainee.name}'s drill did not end within {END_WAIT_S:.0f} s: killed (its reaper removes its stack)")
            trainee.process.kill()
