"""Learning: the course catalogue, lessons and lesson progress."""
