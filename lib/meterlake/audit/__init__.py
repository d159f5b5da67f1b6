"""What did we know, and when: the history of a reading and silver as known at an instant
(`readings`), and the reproduction, diff and package of settlement runs (`settlement`)."""
