"""Relational publication of silver: meters, source files and readings upserted into SQLite,
PostgreSQL or MariaDB/MySQL for applications that want a relational database.

`models` declares the schema (SQLAlchemy ORM), `publisher.publish` upserts what is new in silver,
`meterlake.cli.publish` registers `meterlake publish`. Nothing is imported here, so that the
CLI can register the command without loading Spark or SQLAlchemy.
"""
