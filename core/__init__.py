"""The ground floor: facts and contracts that every other package reads (imports nothing of the project).

facts.py    labels, languages, experiments, names, seeds, colours, the book's figures
run_dir.py  the run directory: the contract between training and cards, the Space and publishing
results.py  the study's result files and the bundled models' folders
bio.py      IOB2 tags -> entity spans
files.py    atomic writes
cli.py      one error style for every command
"""
