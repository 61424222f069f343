"""A game day on real Docker, in a real headless Chromium (Debian's, driven by Playwright): three trainees on two
engines of this machine, each in their own tab; one fixes the fault from a terminal, one gives up, one runs out of
time; the facilitator's page shows all three and the scoreboard; nothing is left afterwards. And the game day's
ways to end: the facilitator ending a drill, the game day process killed."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright
from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_result, stop_after_delay, wait_fixed

from lab.gameday.capacity import StackCost, save_cost
from lab.gameday.engines import host_of
from lab.stack import labels
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import LAB, lab_cli

from .helpers import events_of, wait_for_event, wait_until
from .second_engine import second_engine, unavailable

# Alone on the engine (make test runs the others two at a time): it measures a stack's cost to size the game day,
# and starts a second engine.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

CHROMIUM = shutil.which("chromium")
HEADLESS_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FAULT_AFTER_S, TIME_LIMIT_S = 8, 60


def goto(page: Page, url: str) -> None:
    """Open `url`, again if Chromium gave up on it because the host's network changed: a drill's stack starting on
    this host adds a network interface, and Chromium aborts a navigation under way (ERR_NETWORK_CHANGED), even to
    127.0.0.1."""
    Retrying(stop=stop_after_delay(20), wait=wait_fixed(0.5), reraise=True,
             retry=retry_if_exception(lambda exc: isinstance(exc, PlaywrightError)
                                      and "ERR_NETWORK_CHANGED" in str(exc)))(page.goto, url)


@pytest.fixture(scope="module")
def engine2() -> Iterator[str]:
    why = unavailable()
    if why:
        pytest.skip(why)
    with second_engine() as host:
        yield host


class GameDayProcess:
    """`lab gameday` in the background, its output read as it comes."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen([*LAB, "gameday", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, **env})
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lambda s=stream, into=lines: into.extend(iter(s.readline, "")), daemon=True).start()

    def urls(self, count: int, timeout_s: float = 420) -> dict[str, tuple[str, str]]:
        """name -> (url, engine) of the facilitator and the trainees, once all are printed."""
        deadline = threading.Event()
        for _ in range(int(timeout_s / 0.5)):
            found = {m[1]: (m[2], m[3] or "") for line in self.out
                     if (m := re.match(r"(\S+)\s+(http://\S+)(?:\s+\((\S+)\))?", line))}
            if len(found) == count:
                return found
            assert self.process.poll() is None, "".join(self.err)[-3000:]
            deadline.wait(0.5)
        raise AssertionError(f"no URLs after {timeout_s} s: {''.join(self.err)[-3000:]}")


def last_result(state: RetryCallState) -> object:
    """What the last try returned, when the wait gives up (the assertion after it says what was left)."""
    assert state.outcome is not None
    return state.outcome.result()


def terminal(page: Page) -> dict[str, str]:
    """What the trainee's page tells them to export in their terminal."""
    expect(page.locator("#terminal")).to_contain_text("LAB_RUNS_DIR=")
    exported = page.locator("#terminal").inner_text().removeprefix("export ").strip()
    return dict(item.split("=", 1) for item in shlex.split(exported))


def fix_from_the_terminal(env: dict[str, str]) -> None:
    """What a trainee types: find app-2's DROP rule and delete it (`lab exec --netns`, on their drill's engine)."""
    listed = lab_cli("exec", "--netns", "app-2", "iptables", "-S", "OUTPUT", env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    drop = next(line for line in listed.stdout.splitlines() if line.startswith("-A OUTPUT") and "DROP" in line)
    deleted = lab_cli("exec", "--netns", "app-2", "iptables", "-D", *shlex.split(drop)[1:], env=env, timeout=120)
    assert deleted.returncode == 0, deleted.stderr


def diagnosis(directory: Path, game: GameDayProcess) -> str:
    """What each drill said last, and the game day's own output: for a failure message."""
    lines = [f"{log.parent.name}: {log.read_text(errors='replace').strip().splitlines()[-3:]}"
             for log in sorted(directory.glob("trainee-*/drill.log"))]
    return "\n".join([*lines, "game day: " + "".join(game.err)[-2000:]])


def leftovers_on(client: docker.DockerClient, run_ids: list[str]) -> list[str]:
    found = []
    for run_id in run_ids:
        selector = labels.run_filter(run_id)
        found += [c.name for c in client.containers.list(all=True, filters=selector)]
        found += [n.name for n in client.networks.list(filters=selector)]
        found += [v.name for v in client.volumes.list(filters=selector)]
    return found


def acknowledge_note_and_fix(fixer: Page, engine2: str) -> None:
    """The trainee on the second engine acknowledges, notes what they see, and fixes it from their terminal."""
    fixer.click("#ack")
    expect(fixer.locator("#reply")).to_have_text("alert acknowledged")
    fixer.fill("#note-text", "only app-2 fails: it cannot reach db")
    fixer.click("#note")
    expect(fixer.locator("#activity")).to_contain_text("note: only app-2 fails")
    shell = {**terminal(fixer)}
    assert shell["DOCKER_HOST"] == engine2
    assert lab_cli("logs", "--tail", "3", "app-2", env=shell).returncode == 0
    fix_from_the_terminal(shell)
    expect(fixer.locator("#activity")).to_contain_text("lab logs app-2")
    expect(fixer.locator("#activity")).to_contain_text("lab exec --netns app-2 -- iptables -D OUTPUT")
    expect(fixer.locator("#status")).to_have_text("fixed", timeout=90_000)


def hint_then_give_up(quitter: Page) -> None:
    quitter.click("#hint")
    expect(quitter.locator("#reply")).to_contain_text("hint 1/3:")
    quitter.once("dialog", lambda dialog: dialog.accept())
    quitter.click("#give-up")
    expect(quitter.locator("#reply")).to_contain_text("the cause was")
    expect(quitter.locator("#status")).to_have_text("gave up", timeout=60_000)


def the_facilitator_sees_every_end(facilitator: Page) -> None:
    """Each drill's outcome and fault, the fixer's times and timeline, the final scoreboard."""
    expect(facilitator.locator("#status")).to_have_text("3 of 3 drills ended", timeout=120_000)
    for index, outcome in ((1, "gave up"), (2, "fixed"), (3, "timed out")):
        card = facilitator.locator(f"#drill-{index}")
        expect(card.locator(".status")).to_have_text(outcome)
        expect(card.locator(".fault")).to_contain_text("packet-drop on app-2")
    expect(facilitator.locator("#drill-2 .acknowledged")).not_to_have_text("-")
    expect(facilitator.locator("#drill-2 .mitigated")).not_to_have_text("-")
    expect(facilitator.locator("#drill-2 .timeline")).to_contain_text("the fault landed")
    rows = facilitator.locator("#scoreboard tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("trainee-2")
    expect(rows.nth(0)).to_contain_text("fixed")
    expect(rows.nth(0)).to_contain_text("90 min")
    expect(facilitator.locator("#scoreboard-note")).to_have_text("(final)")


def test_three_trainees_in_browser_tabs_on_two_engines(tmp_path: Path, engine: Engine,
                                                       lab_images: LabImages, engine2: str) -> None:
    """Fixed, gave up and timed out side by side on the facilitator's page with the scoreboard; nothing left."""
    if CHROMIUM is None and not os.environ.get("CI"):
        pytest.skip("Debian's chromium is not installed (scripts/ensure-test-tools.sh installs it)")
    assert CHROMIUM is not None, "CI must have chromium: `make test` installs it"
    engines_file = tmp_path / "engines.yaml"
    engines_file.write_text(f"engines:\n  - name: first\n  - name: second\n    docker_host: {engine2}\n")
    runs = tmp_path / "runs"
    env = {"LAB_RUNS_DIR": str(runs)}
    game = GameDayProcess("--trainees", "3", "--scenario", "db-network-misconfig", "--engines", str(engines_file),
                          "--inject-after", str(FAULT_AFTER_S), "--max-duration", str(TIME_LIMIT_S),
                          "--out", str(tmp_path / "gameday"), env=env)
    try:
        urls = game.urls(4)
        assert [urls[f"trainee-{i}"][1] for i in (1, 2, 3)] == ["first", "second", "first"]
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=HEADLESS_FLAGS,
                viewport={"width": 1400, "height": 1000})
            facilitator = browser.new_page()
            goto(facilitator, urls["facilitator"][0])
            tabs = {name: browser.new_page() for name in ("trainee-1", "trainee-2", "trainee-3")}
            for name, tab in tabs.items():
                goto(tab, urls[name][0])
            for tab in tabs.values():  # the fault lands unannounced; the alert is the trainee's first clue
                try:
                    expect(tab.locator("#alerts")).to_contain_text("FIRING", timeout=180_000)
                except AssertionError as exc:
                    raise AssertionError(f"{exc}\n{diagnosis(tmp_path / 'gameday', game)}") from exc
                expect(tab.locator("body")).not_to_contain_text("packet-drop")

            fixer = tabs["trainee-2"]  # on the second engine: exec and the fault are there
            acknowledge_note_and_fix(fixer, engine2)
            hint_then_give_up(tabs["trainee-1"])

            expect(tabs["trainee-3"].locator("#status")).to_have_text("timed out", timeout=(TIME_LIMIT_S + 90) * 1000)
            the_facilitator_sees_every_end(facilitator)
            shots = Path(os.environ.get("LAB_SCREENSHOTS_DIR", tmp_path))
            shots.mkdir(parents=True, exist_ok=True)
            facilitator.screenshot(path=str(shots / "gameday-facilitator.png"), full_page=True)
            fixer.screenshot(path=str(shots / "gameday-trainee.png"), full_page=True)
            debrief = browser.new_page()
            goto(debrief, urls["trainee-2"][0] + "/debrief")
            expect(debrief.locator(".banner")).to_contain_text("Outcome: fixed")
            expect(debrief.locator("#debrief-times")).to_contain_text("90 min")
            debrief.screenshot(path=str(shots / "gameday-debrief.png"), full_page=True)
            facilitator.click("#close")
            browser.close()
        assert game.process.wait(timeout=120) == 0, "".join(game.err)[-3000:]
    finally:
        if game.process.poll() is None:
            game.process.terminate()
            game.process.wait(timeout=200)

    record = json.loads((tmp_path / "gameday" / "gameday.json").read_text())
    assert [t["status"] for t in record["trainees"]] == ["gave up", "fixed", "timed out"]
    assert "| 1 | trainee-2 | db-network-misconfig | fixed |" in (tmp_path / "gameday" / "scoreboard.md").read_text()
    run_ids = [json.loads(Path(t["run_dir"], "events.jsonl").read_text().splitlines()[0])["run_id"]
               for t in record["trainees"]]
    second = docker.DockerClient(base_url=engine2)
    assert leftovers_on(engine.client, run_ids) == [] and leftovers_on(second, run_ids) == []
    assert second.containers.list(all=True) == []
    assert not list((tmp_path / "gameday").glob("trainee-*/.active-drill"))

    # The measure taken above is kept: asking for more stacks than fit is refused at once, with the figure.
    refused = lab_cli("gameday", "--trainees", "40", "--scenario", "db-network-misconfig", "--engines",
                      str(engines_file), env=env, timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert re.search(r"40 trainees need 40 stacks but the engines take \d+(, \d+ lab stack\(s\) already running)?: "
                     r"one stack costs [\d.]+ CPU cores", refused.stderr), refused.stderr


def lab_processes_under(path: Path) -> list[str]:
    """Command lines of live processes that mention `path` (a game day's drills do, through --out)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(path) in argv and "lab.cli" in argv:
                found.append(argv)
    return found


def test_the_facilitator_ends_a_drill_and_a_killed_game_day_leaves_nothing(tmp_path: Path, engine: Engine,
                                                                           lab_images: LabImages) -> None:
    """End this drill stops one drill as "ended by the facilitator"; kill -9 of the game day ends the other drill,
    which reverts, removes its stack and closes its recording by itself."""
    runs = tmp_path / "runs"
    runs.mkdir()
    # A measure is an input here (the measuring itself is the browser test's): small enough for two stacks.
    save_cost(runs, StackCost(host=host_of(engine.client).name, rate=20, stack_cpu=0.1, engine_cpu=0.05,
                              stack_memory_mib=200, lab_cpu=0.05, lab_memory_mib=100, measured_at="now", measured_s=15))
    out = tmp_path / "gameday"
    game = GameDayProcess("--trainees", "2", "--scenario", "db-network-misconfig", "--inject-after", "600",
                          "--out", str(out), env={"LAB_RUNS_DIR": str(runs)})
    try:
        urls = game.urls(3)
        first, second = (out / f"trainee-{i}" / "drill" for i in (1, 2))
        run_ids = [wait_for_event(run_dir, "run.started")["run_id"] for run_dir in (first, second)]
        ended = requests.post(urls["facilitator"][0] + "/drills/1/end", timeout=30).json()
        assert ended == {"ok": True, "message": "ending trainee-1's drill"}
        wait_for_event(first, "run.ended", timeout_s=120)
        debrief = wait_until(lambda: (first / "debrief.json").exists() or None, "the debrief, written after the run")
        assert debrief and json.loads((first / "debrief.json").read_text())["outcome"] == "ended by the facilitator"
        game.process.kill()
        game.process.wait(timeout=30)
        closed = wait_for_event(second, "run.ended", timeout_s=120)
    finally:
        if game.process.poll() is None:
            game.process.kill()
    assert closed["partial"] is True
    assert next(e for e in events_of(second) if e["kind"] == "drill.ended")["outcome"] == "interrupted"
    left = Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.5), retry=retry_if_result(bool),
                    retry_error_callback=last_result)(lab_processes_under, tmp_path)
    assert left == []
    assert leftovers_on(engine.client, run_ids) == []
