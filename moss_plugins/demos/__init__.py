"""``moss demo``: the main job on the bundled data, one module per stage (reward, data, build, lmms-eval, verl).

The top of the house: a stage may use any layer, and nothing imports a demo.
"""
