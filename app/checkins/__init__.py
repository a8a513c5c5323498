"""Check-ins: milestones (¥100 in week one, ¥1,000 in month one), daily numbers, the line, the diagnosis."""
