"""The MovieLens importer: formats and readers, the COPY loader, downloads and a synthetic generator.

It writes movies, genres and tags (catalog), users (accounts) and ratings (ratings), so it sits
above those apps. The entry points are the services in `movielens.services` (`movielens_import`,
`movielens_fetch`) and the `import_movielens` / `generate_movielens_synthetic` commands.
"""
