"""meterlake: a lakehouse for metered time series on PySpark and Delta Lake."""

__version__ = "0.1.0"
