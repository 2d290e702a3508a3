"""Older configs still pass the sweep's configuration check: a point with stp_skip_gap is read as
`stp train` reads it. (The reading itself is tested in tests/training/config/test_legacy.py, the
older flags in tests/training/test_arguments.py.)"""


def test_a_sweep_point_with_an_older_field_passes_the_sweeps_check(tmp_path):
    """`stp sweep` checks each point with `stp train`'s parser in a child process, fields included."""
    from semantic_tube.experiments.validate import check_configs

    validation = check_configs({"p": {"stp_skip_gap": False, "output_dir": str(tmp_path)}}, on_this_hardware=False)
    assert validation.errors == {} and {"stp_gap", "stp_skip_gap", "stp_gap_origin"} <= validation.fields
