"""Spark side of the recommender: session factory, schemas, pure transforms (frames, fitting, topk, metrics,
tuning), the retrain's Spark-side stages (stages), and the Django-facing runs (pipeline, experiments, tasks).

Kept free of imports so that importing the package never starts a JVM or pulls in pyspark.
"""
