"""The sources: `registry` lists them; each folder holds one source's contract, row rules,
parse step, door checks and mapping into silver."""
