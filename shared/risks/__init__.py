"""The risk register (风险登记): risks, their 3 × 3 matrix level and their periodic reviews."""
