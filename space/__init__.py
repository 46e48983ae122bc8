"""The Gradio Space (app.py at the repository root serves it). Imports core/ only.

tagging.py     text -> word-aligned entity spans around a backend's logits (pure: no model, no registry)
backends/      model folder -> Tagger: ONNX Runtime fp32 (the default), torch fp32, torch int8
registry.py    the models: keys, Hub ids, bundled folders, per-model locks, remembered failures
routing.py     "auto": detect the language (py3langid), pick the best model by the F1 matrix
examples.py    example sentences per language, PAN-X ones with gold (examples.json)
compare.py     several models on one text: agreement, gold check, the /tag JSON
views.py       the components and the HTML they show
serving.py     queue, request and upload limits, launch()
app.py         build_demo(): the Blocks UI, its events and the /tag endpoint
"""
