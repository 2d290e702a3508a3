"""The report's PNG figures (`experiments.figures`): what each panel draws, checked on the
matplotlib figure before it is saved."""

from semantic_tube.experiments import figures


def test_a_configuration_keeps_its_colour_on_every_loss_panel(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(figures, "_save", lambda figure, path, title: saved.append(figure) or path)
    curves = [
        figures.Curve("ntp", 1, {"ntp_loss": ((10, 20), (1.0, 0.5)), "stp_loss": ((), ())}),
        figures.Curve("stp", 1, {"ntp_loss": ((10, 20), (1.0, 0.4)), "stp_loss": ((10, 20), (0.9, 0.8))}),
    ]
    figures.plot_loss_curves(curves, [("ntp_loss", "NTP loss"), ("stp_loss", "STP loss")], tmp_path / "fig.png")
    ntp_panel, stp_panel = saved[0].axes
    colours = {line.get_label(): line.get_color() for line in ntp_panel.get_lines()}
    assert [line.get_label() for line in stp_panel.get_lines()] == ["stp (n=1)"]
    assert all(line.get_color() == colours[line.get_label()] for line in stp_panel.get_lines())
    assert "not logged: ntp" in [text.get_text() for text in stp_panel.texts]




def test_fractions_and_seed_counts_are_labelled_as_the_paper_writes_them():
    assert [figures.fraction_label(value) for value in (1.0, 0.5, 0.0625, 0.03125, 0.3141)] == ["1", "1/2", "1/16", "1/32", "0.3141"]
    assert [figures.fraction_label(value) for value in (0.3, 0.75, 2.0)] == ["0.3", "0.75", "2"]  # only 1/n is written as a fraction
    assert figures.n_label([3, 3]) == "n=3" and figures.n_label([3, 2, 3]) == "n=2-3"
