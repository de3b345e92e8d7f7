"""Matrix completion by alternating least squares (the exercise's part 2)."""
