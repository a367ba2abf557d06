"""Progress of an apply, phase by phase: the bar names the spec from the start and moves as
each run goes through its phases, so a 300-circuit run does not sit at 0% until it ends.

Pure bookkeeping: which phases each kind of action has, how far the bar moves when a run
enters one. Output (a rich bar on a terminal, one line per finished action in CI) is
runner.output's; the phases are announced by the steps themselves (execute, collect, the
backends) through RunContext.phase and RunRequest.progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.plan import Action, Kind

if TYPE_CHECKING:
    from runner.execute import RunContext
    from runner.output import Output

PHASES: dict[Kind, tuple[str, ...]] = {
    Kind.SUBMIT: ("build", "transpile", "run", "store", "collect", "analyse"),
    Kind.COLLECT: ("collect", "analyse"),
    Kind.RETIRE: ("cancel",),
}
"""Each action's phases in order; a run that stops early (still queued) skips the rest."""
RENDER = "render reports"

Step = Callable[[str, int, bool], None]  # (label, units finished now, the action is done)


def silent(phase: str, detail: str = "") -> None:
    """The phase hook when nobody shows progress."""


@dataclass
class ApplyProgress:
    """Turns "this run enters phase X" into bar updates for one apply's actions."""

    step: Step
    _phases: tuple[str, ...] = ()
    _at: int = 0  # phases of the current action finished
    _name: str = ""

    @staticmethod
    def total(actions: Sequence[Action]) -> int:
        """Units of the whole apply: every phase of every action, and rendering the reports."""
        return sum(len(PHASES[a.kind]) for a in actions) + 1

    @classmethod
    @contextmanager
    def shown(cls, out: Output, actions: Sequence[Action], ctx: RunContext) -> Iterator[Any]:
        """The apply's bar on out; the steps of ctx announce their phases to it."""
        with out.progress("apply", cls.total(actions), len(actions)) as step:
            progress = cls(step)
            ctx.phase = progress.phase
            yield progress

    def begin(self, action: Action) -> None:
        """A new action: the bar names it before any of its work starts."""
        self._phases, self._at = PHASES[action.kind], 0
        self._name = f"{action.kind.value} {action.name}"
        self.step(self._name, 0, False)

    def phase(self, phase: str, detail: str = "") -> None:
        """The current run enters a phase: the phases before it are done. A phase entered
        again (the next job of a batch) or not in the list only changes the label."""
        if phase in self._phases[self._at :]:
            index = self._phases.index(phase, self._at)
            moved, self._at = index - self._at, index
        else:
            moved = 0
        self.step(f"{self._name}: {detail or phase}", moved, False)

    def end(self) -> None:
        """The action finished (or stopped early: a queued job, a failure): its remaining
        phases count as done."""
        moved, self._at = len(self._phases) - self._at, len(self._phases)
        self.step(self._name, moved, True)

    @contextmanager
    def rendering(self) -> Iterator[None]:
        """The reports render: named while it runs, its unit counted once done."""
        self.step(RENDER, 0, False)
        yield
        self.step(RENDER, 1, False)
