"""Spark side of the recommender: session factory, schemas, pure transforms.

Kept free of imports so that importing the package never starts a JVM or pulls in pyspark.
"""
