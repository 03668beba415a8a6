"""Pages to look at instead of reading: compare sheets and the project's gallery.

Each page is one self-contained HTML file (views.py says what is shown of an entry, html.py
holds the page's pieces); serve.py serves the gallery for `watch --serve`.
"""
