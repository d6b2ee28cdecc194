"""Molecular dynamics (GPAW or any ASE calculator) and vibrational-amplitude tables."""
