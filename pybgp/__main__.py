from pybgp.cli import run

run()
