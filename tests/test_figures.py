"""Figures that show the effect: axes scaled to the data, numeric sweeps in numeric order,
nuisance parameters averaged (mean ± s.d.), categories and list values as unconnected
points, wide distributions with the probability of the outcomes left out."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from runner.reports import figures, sweeps
from tests.test_reports import svg_texts, write_spec

SWEEPS = """
[backend]
target = "local:aer"
[[circuits]]
name = "qv"
template = "quantum_volume"
sweep = {{ seed = [{seeds}], width = [2, 3, 4] }}
[[circuits]]
name = "bell"
template = "bell"
sweep = {{ variant = ["phi+", "psi-"] }}
[[circuits]]
name = "ring"
template = "qaoa_maxcut"
params = {{ edges = [[0, 1], [1, 2]], p = 1, betas = [0.3] }}
sweep = {{ gammas = [[0.2], [0.4], [0.6]] }}
"""


def fidelity(value: float, half: float = 0.01) -> dict:
    return {"value": value, "low": value - half, "high": value + half}


def circuits_of(spec, value) -> list[dict]:
    return [{"circuit_id": c.circuit_id, "fidelity": fidelity(value(c.params))}
            for c in spec.circuits]  # fmt: skip


def y_ticks(svg: bytes) -> list[float]:
    return sorted(float(t) for t in svg_texts(svg) if re.fullmatch(r"[−-]?\d+\.\d+", t))


def test_sweep_axes_by_kind_with_the_nuisance_seed_averaged(tmp_path: Path) -> None:
    seeds = ", ".join(str(s) for s in range(1, 96))
    spec = write_spec(tmp_path, "mixed", SWEEPS.format(seeds=seeds))

    # fidelity falls with width; each seed adds its own offset (the nuisance spread)
    def value(p: dict) -> float:
        return 0.98 - 0.04 * (p.get("width", 2) - 2) + 0.001 * (p.get("seed", 0) % 7)

    axes = {a.key: a for a in sweeps.axes_of(spec, circuits_of(spec, value))}
    assert set(axes) == {"width", "variant", "gammas"}  # never an axis: the seed
    assert (axes["width"].kind, axes["variant"].kind, axes["gammas"].kind) == (
        "numeric", "category", "list"
    )  # fmt: skip
    assert len(axes["width"].series) == 95 and axes["width"].others == {"seed"}
    assert axes["variant"].ticks == ["phi+", "psi-"] and axes["gammas"].ticks == [
        "[0.2]", "[0.4]", "[0.6]"
    ]  # fmt: skip
    summary = sweeps.summarise(axes["width"].series)
    assert [x for x, _ in summary] == [2.0, 3.0, 4.0]
    at_two = [value({"width": 2, "seed": s}) for s in range(1, 96)]
    assert abs(summary[0][1]["value"] - statistics.fmean(at_two)) < 1e-12
    assert abs(summary[0][1]["high"] - summary[0][1]["value"] - statistics.stdev(at_two)) < 1e-12
    svg = sweeps.draw("fidelity vs width", axes["width"])
    texts = svg_texts(svg)
    assert "fidelity vs width (mean ± s.d. over 95 seed settings)" in texts
    assert "width (qubits)" in texts and "Hellinger fidelity (ideal = 1)" in texts
    ticks = y_ticks(svg)
    assert ticks[0] >= 0.85 and ticks[-1] <= 1.0  # scaled to 0.90..0.99, not 0..1
    files = sweeps.sweep_figures("mixed", "0001-x", spec, circuits_of(spec, value))
    assert len(files) == 3 and sweeps.sweep_figures(
        "mixed", "0001-x", spec, circuits_of(spec, value)
    ) == files  # byte-deterministic  # fmt: skip


def test_categories_are_points_not_a_connected_line(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "mixed", SWEEPS.format(seeds="1"))
    axes = {a.key: a for a in sweeps.axes_of(spec, circuits_of(spec, lambda p: 0.9))}
    category = sweeps.draw("fidelity vs variant", axes["variant"]).decode()
    numeric = sweeps.draw("fidelity vs width", axes["width"]).decode()

    # a connected series is a data line (matplotlib's 1.5 pt stroke) through several
    # points; error bars are single segments and markers are no line at all
    def joined(svg: str) -> int:
        paths = re.findall(r'<path d="([^"]*)"[^>]*stroke-width: 1\.5', svg)
        return sum(1 for d in paths if d.count("L") >= 2)

    assert joined(numeric) >= 1 and joined(category) == 0


def test_numeric_ids_sort_numerically() -> None:
    ids = ["c[seed=10]", "c[seed=2]", "c[seed=100]", "c[seed=11]", "c[seed=1]"]
    assert sorted(ids, key=figures.natural_key) == [
        "c[seed=1]", "c[seed=2]", "c[seed=10]", "c[seed=11]", "c[seed=100]"
    ]  # fmt: skip
    shown = figures.histogram_circuits(
        [{"circuit_id": i, "probabilities": {"0": 1.0}} for i in ids]
    )
    assert [c["circuit_id"] for c in shown][:3] == ["c[seed=1]", "c[seed=2]", "c[seed=10]"]


def test_histogram_axis_fits_a_uniform_distribution() -> None:
    uniform = {format(i, "04b"): 1 / 16 for i in range(16)}
    svg = figures.histogram("t", [("qft", uniform, uniform)])
    ticks = y_ticks(svg)
    assert ticks[-1] <= 0.09  # 1/16 fills the plot instead of a 0..1.15 axis
    assert "outcome" in svg_texts(svg)  # all 16 shown: nothing left out to account for


def _title_reach(title: str, wrap: bool) -> tuple[float, float]:
    """Right edge of a drawn title and of the figure, in pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with figures._figure(3.0) as fig:
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        drawn = figures.set_title(ax, title) if wrap else ax.set_title(title, loc="left")
        fig.canvas.draw()
        return drawn.get_window_extent().x1, fig.bbox.x1


def test_long_titles_wrap_inside_the_figure() -> None:
    title = "coherence-fez: measured vs ideal outcomes (top 2 of each; the rest hold ≤ 0.001) " * 2
    unwrapped, edge = _title_reach(title, wrap=False)
    assert unwrapped > edge  # what the page showed: the title ran off the right edge
    wrapped, edge = _title_reach(title, wrap=True)
    assert wrapped <= edge


def test_sweep_histogram_labels_circuits_by_their_sweep_values() -> None:
    shown = [(f"quantum-volume[seed={s},width={w}]", {"00": 0.5, "11": 0.5}, {"00": 0.5, "11": 0.5})
             for s, w in [(1, 2), (10, 2), (55, 3), (100, 4)]]  # fmt: skip
    texts = svg_texts(figures.histogram("qv-sweep: measured vs ideal outcomes", shown))
    assert {"seed=1, width=2", "seed=10, width=2", "seed=55, width=3", "seed=100, width=4"} <= texts
    assert not any("…" in t for t in texts)  # nothing shortened in the middle
    assert any("of quantum-volume" in t for t in texts)  # the entry is named once, in the title


def test_each_fitted_curve_is_labelled_by_its_series() -> None:
    from runner.reports.fit_figures import fit_plot

    series = [{"label": f"n = {n}", "x": [0.0, 1.0, 2.0], "y": [0.9, -0.8, 0.9],
               "yerr": [0.02, 0.02, 0.02], "fit_x": [0.0, 1.0, 2.0], "fit_y": [0.9, -0.8, 0.9],
               "curve_label": "fit"} for n in (2, 4, 6)]  # fmt: skip
    result = {"series": series, "metrics": [], "quality": {"good": True},
              "x_label": "parity phase φ (rad)", "y_label": "parity"}  # fmt: skip
    texts = svg_texts(fit_plot("ghz (ghz_parity)", result))
    assert {
        "n = 2 (95% bars) and fit",
        "n = 4 (95% bars) and fit",
        "n = 6 (95% bars) and fit",
    } <= texts
    assert "fit" not in texts


def test_long_sweep_labels_keep_every_value_and_name_the_keys_once() -> None:
    shown = [(f"ghz[num_qubits={n},phase_index={k}]", {"00": 0.5, "11": 0.5}, None)
             for n, k in [(2, 0), (2, 5), (6, 1), (6, 8)]]  # fmt: skip
    texts = svg_texts(figures.histogram("ghz-fidelity: measured vs ideal outcomes", shown))
    assert {"2, 0", "2, 5", "6, 1", "6, 8"} <= texts  # no value cut off
    title = " ".join(t for t in texts if t.startswith(("ghz-fidelity", "(num_qubits")))
    assert "of ghz by" in title and "(num_qubits, phase_index)" in title


def test_fit_titles_use_human_names_and_one_rounding_per_value() -> None:
    from runner.reports.fit_figures import fit_plot

    metrics = [{"name": "readout_error[q4]", "value": 0.0005, "low": 0.0001, "high": 0.0021},
               {"name": "t1_us", "value": 181.61, "low": 169.32, "high": 193.84, "unit": "µs"}]  # fmt: skip
    result = {"series": [], "metrics": metrics, "quality": {"good": True}}
    import xml.etree.ElementTree as ET

    root = ET.fromstring(fit_plot("ro (readout)", result))  # the title's lines, in order
    title = " ".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Readout error q4 = 0.0005 [0.0001, 0.0021]" in title
    assert "T1 = 182 [169, 194] µs" in title
    assert "readout_error" not in title and "t1_us" not in title


def test_an_exact_ceiling_reads_as_one_number() -> None:
    from runner.reports.markdown import ceiling

    assert ceiling({"ceiling": 1.0, "ceiling_sd": 2e-9}) == "1"
    assert ceiling({"ceiling": 0.9312, "ceiling_sd": 0.0041}) == "0.9312 ± 0.0041"


def test_one_quantity_at_several_points_is_named_once_so_every_point_fits() -> None:
    import xml.etree.ElementTree as ET

    from runner.reports.fit_figures import fit_plot

    metrics = [{"name": f"mean_hop[width={w}]", "value": v, "low": v - 0.08, "high": v + 0.08}
               for w, v in ((2, 0.769), (3, 0.842), (4, 0.826))]  # fmt: skip
    result = {"series": [], "metrics": metrics, "quality": {"good": True}}
    root = ET.fromstring(fit_plot("qv (quantum_volume)", result))
    title = " ".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))
    assert title.count("Mean heavy-output probability") == 1
    assert "width=4 0.826 [0.746, 0.906]" in title and "…" not in title


def test_points_with_an_asymmetric_interval_get_asymmetric_bars_inside_it() -> None:
    """A readout error of 0.0005 has the interval [0.00014, 0.0021]: the bar must not dip
    below 0 as y ± 1.96 se did."""
    from runner.fits.data import EntryData
    from runner.fits.readout import readout
    from runner.reports.fit_figures import fit_plot

    circuits = [{"params": {"state": "0"}, "counts": {"0": 1000}},
                {"params": {"state": "1"}, "counts": {"1": 999, "0": 1}}]  # fmt: skip
    result = readout(EntryData("ro", "readout", (4,), circuits, {})).to_json()
    (series,) = result["series"]
    (metric,) = result["metrics"]
    assert series["bounds"] == [[metric["low"], metric["high"]]] and metric["low"] >= 0
    assert y_ticks(fit_plot("ro (readout)", result))[0] >= 0.0  # the axis holds no negative bar


def test_every_fitted_quantity_has_a_human_name() -> None:
    """Each name a run-level analysis reports reads as words, its unit left to the unit."""
    from runner.fits.lead import NAMES, human_name

    assert human_name("frequency_offset_mhz") == "Frequency offset"
    assert human_name("epc[q0]") == "Error per Clifford q0"
    assert all(not name[0].islower() for name in NAMES.values())
