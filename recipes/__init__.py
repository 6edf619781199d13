"""Recipes that produce particular models with the wan_alpha package (which never imports them)."""
