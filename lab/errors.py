"""The lab's one error root. The CLI turns any LabError into one line on stderr and its exit code."""

from __future__ import annotations

# Exit codes, documented in the README and in `lab --help`.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_NOTHING_TO_DO = 4
EXIT_UNRELIABLE = 5
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_READER_GONE = 141
"""The reader of the output went away (`lab faults | head -1`): what a shell reports for a tool killed by SIGPIPE."""
EXIT_INTERNAL_ERROR = 70
"""A failure the lab did not foresee: a bug of its own, not of the input (EX_SOFTWARE of sysexits.h)."""
BUG_REPORTS = "the outage-lab maintainers (the project's issue tracker)"
"""Where the one line of an internal error asks its traceback to be sent."""


class LabError(Exception):
    """Something the user can act on. str() is the one line shown to them."""

    exit_code = EXIT_ENVIRONMENT


class InvalidInput(LabError):
    """Bad arguments or files: nothing was started."""

    exit_code = EXIT_INVALID_INPUT


class ScenarioError(InvalidInput):
    """A scenario file failed validation. Carries every problem found, each with its field path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class DockerUnavailable(LabError):
    """The Docker daemon cannot be reached."""


class EngineLost(LabError):
    """The Docker daemon stopped or restarted mid-run: the run was aborted (its recording is partial)."""


class ComposeMissing(LabError):
    """No Docker Compose v2 on this machine."""


class PortInUse(LabError):
    """A host port the user asked for is taken."""


class ImageBuildError(LabError):
    """Building or bootstrapping an image failed."""


class StackError(LabError):
    """The Compose stack failed to come up, or a service it needs is missing."""


class FaultError(LabError):
    """A fault could not be applied, verified or reverted."""


class SafetyError(LabError):
    """The lab was asked to touch something it did not create."""


class NothingRunning(LabError):
    """A command found nothing to act on: no lab stack, no drill, no alert to acknowledge yet."""

    exit_code = EXIT_NOTHING_TO_DO


class Interrupted(LabError):
    """The run was stopped by a signal; cleanup has already run."""

    def __init__(self, signal_name: str, exit_code: int, cleanup_failure: LabError | None = None) -> None:
        if cleanup_failure is None:
            message = f"interrupted by {signal_name}: faults reverted, stack removed, recording marked partial"
        else:  # say what could not be done rather than claim a clean stop
            message = f"interrupted by {signal_name}, recording marked partial; but {cleanup_failure}"
        super().__init__(message)
        self.exit_code = exit_code
