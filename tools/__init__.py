"""Project tools (not part of the odcore package): the dependency lock and the install check."""
