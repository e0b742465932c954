"""Importing a person's ratings from other sites: IMDb, Letterboxd, Trakt, and this site's own export.

formats.py reads a file into rows (pure), matching.py finds each row's movie in the catalogue
(pure, on an index built once per file), models/services/selectors store a preview, apply it in
one transaction and undo it; views.py and api.py are the site pages and the REST API.
"""
