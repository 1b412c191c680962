"""Human evaluation: blinded side-by-side rating server, vote storage and preference aggregation."""
