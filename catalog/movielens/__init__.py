"""MovieLens data sets: formats and readers, the COPY loader, downloads and a synthetic generator.

The entry points are the services in `catalog.services` (`movielens_import`, `movielens_fetch`,
`movie_stats_refresh`) and the `import_movielens` / `generate_movielens_synthetic` commands.
"""
