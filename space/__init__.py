"""The Gradio Space (app.py at the repository root serves it).

    registry.py    the six models: keys, Hub ids, bundled folders, a lazy thread-safe cache
    tagging.py     text -> word-aligned entity spans: tag(text, model_key)
    examples.py    example sentences per language, PAN-X ones with gold (examples.json)
    compare.py     several models on one text: agreement, gold check, the /tag JSON
    app.py         build_demo(): the Blocks UI and the /tag endpoint; launch()
    screenshot.py  headless Chromium: the browser test's driver and docs/screenshot.png
"""
