from pybgp.cli import main

main()
