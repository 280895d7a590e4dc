"""The benchmarks' markdown tables: rows measured before a column was added keep their place."""

from benchmarks.report import markdown_table


def test_a_row_without_a_newer_column_shows_n_a():
    table = markdown_table([{"checkpoint": "old", "Frechet distance": 39.23},
                            {"checkpoint": "new", "Frechet distance": 30.5, "mean pixel": 0.2861}])
    header, rule, old, new = table.splitlines()
    assert header == "| checkpoint | Frechet distance | mean pixel |" and rule == "|---|---|---|"
    assert old == "| old | 39.23 | n/a |" and new == "| new | 30.5 | 0.2861 |"
