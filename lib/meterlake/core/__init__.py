"""The core every layer builds on: settings, the one SparkSession factory, the jars, Delta
I/O by contract, table contracts and row rules, the interfaces the engine runs, instants."""
