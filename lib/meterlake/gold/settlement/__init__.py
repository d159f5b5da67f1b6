"""Monthly settlements: the book (`book`), energy and event lines (`energy`, `events`,
`report`), pinned inputs (`inputs`), runs with their manifests and exports (`run`, `files`) and
the tables (`tables`)."""
