"""`pixelbuild compare` and `pick`: one entry built over axes of settings, and the winner kept.

axes.py reads the axes, cells.py makes their combinations, run.py builds them as cached nodes,
pick.py writes a chosen cell back into pixels.yaml; pages/compare_page.py draws them.
"""
